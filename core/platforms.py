"""The device platforms the server knows: registrations, profiles and devices all speak them."""

from django.db import models


class Platform(models.TextChoices):
    IOS = "ios", "iOS / iPadOS"
    MACOS = "macos", "macOS"
    ANDROID = "android", "Android"
