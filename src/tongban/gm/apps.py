from django.apps import AppConfig


class GmConfig(AppConfig):
    name = "tongban.gm"
    label = "gm"
    verbose_name = "国密"
