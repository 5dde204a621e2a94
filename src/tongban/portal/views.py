"""Pages: thin views over the services and selectors."""

from django.shortcuts import render


def home(request):
    return render(request, "portal/home.html")
