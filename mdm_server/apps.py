from django.apps import AppConfig


class MdmServerConfig(AppConfig):
    name = "mdm_server"
    verbose_name = "MDM server"
