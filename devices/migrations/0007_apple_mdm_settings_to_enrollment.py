"""AppleMdmSettings moves to the enrollment app (which serves the profiles that carry it): only
Django's model state changes here; the table stays `devices_applemdmsettings`."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("devices", "0006_ended_android_device_names")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AppleMdmSettings")],
            database_operations=[],
        ),
    ]
