"""AppleMdmSettings, moved from the devices app: state only, on its existing table."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0006_ca_chain"),
        ("devices", "0007_apple_mdm_settings_to_enrollment"),
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AppleMdmSettings",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("push_topic", models.CharField(
                            blank=True, help_text="APNs topic, com.apple.mgmt.External.<uuid>",
                            max_length=255)),
                        ("sign_enrollment_profiles", models.BooleanField(
                            default=True,
                            help_text="Serve enrollment profiles signed (uncheck for tooling "
                                      "only).")),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("tenant", models.ForeignKey(
                            on_delete=django.db.models.deletion.CASCADE, related_name="+",
                            to="users.tenant")),
                    ],
                    options={
                        "verbose_name": "Apple MDM settings",
                        "verbose_name_plural": "Apple MDM settings",
                        "db_table": "devices_applemdmsettings",
                        "constraints": [models.UniqueConstraint(
                            fields=("tenant",), name="one_apple_mdm_settings_per_tenant")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
