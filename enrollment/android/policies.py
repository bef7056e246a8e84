"""The AMAPI policies the server keeps on each tenant's enterprise (pure builders, no Django).

- `default`: every enrollment. `statusReportingSettings.softwareInfoEnabled` is what makes
  Google report `softwareInfo.androidVersion` (and the security patch level); without it the
  server cannot apply the Android 9 / 10+ re-registration rule (S22).
- `company`: company-owned / work-managed enrollments (S17). AMAPI has no policy field that
  uninstalls user-installed CA certificates, so the policy (1) sets
  `credentialsConfigDisabled` so the user cannot add new ones, and (2) force-installs the
  agent app with the delegated `CERT_INSTALL` scope and a managed configuration asking it to
  remove every user-installed CA certificate (`DevicePolicyManager.uninstallAllUserCaCerts`),
  which only a holder of that scope may do. See README "Android Enterprise".
"""

from __future__ import annotations

DEFAULT_POLICY_ID = "default"
COMPANY_POLICY_ID = "company-owned"
CA_CLEANUP_CONFIG_KEY = "remove_user_ca_certificates"

STATUS_REPORTING = {
    "softwareInfoEnabled": True,  # androidVersion, securityPatchLevel
    "hardwareStatusEnabled": True,
    "deviceSettingsEnabled": True,
    "networkInfoEnabled": True,
    "memoryInfoEnabled": True,
    "powerManagementEventsEnabled": True,
}


def policy_name(enterprise_name: str, policy_id: str) -> str:
    return f"{enterprise_name}/policies/{policy_id}"


def default_policy(*, agent_app_package: str = "") -> dict:
    policy: dict = {"statusReportingSettings": dict(STATUS_REPORTING)}
    if agent_app_package:
        policy["applications"] = [{"packageName": agent_app_package,
                                   "installType": "FORCE_INSTALLED"}]
    return policy


def company_owned_policy(*, agent_app_package: str = "") -> dict:
    """S17: no new user CA certificates, and the agent app removes the existing ones."""
    policy = default_policy()
    policy["credentialsConfigDisabled"] = True
    if agent_app_package:
        policy["applications"] = [{
            "packageName": agent_app_package,
            "installType": "FORCE_INSTALLED",
            "delegatedScopes": ["CERT_INSTALL"],
            "managedConfiguration": {CA_CLEANUP_CONFIG_KEY: True},
        }]
    return policy


def policies_for(enterprise_name: str, *, agent_app_package: str = "") -> dict[str, dict]:
    """Policy name -> body, for everything the enterprise should hold."""
    return {
        policy_name(enterprise_name, DEFAULT_POLICY_ID):
            default_policy(agent_app_package=agent_app_package),
        policy_name(enterprise_name, COMPANY_POLICY_ID):
            company_owned_policy(agent_app_package=agent_app_package),
    }
