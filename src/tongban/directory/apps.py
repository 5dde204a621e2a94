from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "tongban.directory"
    label = "directory"
    verbose_name = "目录"
