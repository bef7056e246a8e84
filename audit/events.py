"""Every audit action the server records, with the label the portal shows.

Add new actions here (one place), grouped by the part of the server that records them.
"""

from django.db import models


class AuditAction(models.TextChoices):
    # accounts and access
    TENANT_CREATED = "tenant.created", "Tenant created"
    TENANT_UPDATED = "tenant.updated", "Organization updated"
    SETUP_COMPLETED = "tenant.setup_completed", "Startup wizard completed"
    USER_CREATED = "user.created", "User created"
    USER_UPDATED = "user.updated", "User updated"
    LOGIN_SUCCEEDED = "auth.login", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    LOGIN_LOCKED = "auth.login_locked", "Sign-in locked out"
    LOGOUT = "auth.logout", "Signed out"
    PASSWORD_CHANGED = "auth.password_changed", "Password changed"
    ADMIN_UNLOCKED = "auth.admin_unlocked", "Admin unlocked (management command)"
    ADMIN_PASSWORD_RESET = "auth.admin_password_reset", \
        "Admin password reset to a temporary one (management command)"
    API_TOKEN_CREATED = "api_token.created", "API token created"
    API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"
    # LDAP directory
    LDAP_CONNECTOR_SAVED = "ldap.connector_saved", "LDAP connector saved"
    LDAP_SYNCED = "ldap.synced", "LDAP directory synced"
    LDAP_SYNC_FAILED = "ldap.sync_failed", "LDAP sync failed"
    # PKI and SCEP
    CA_CREATED = "ca.created", "CA created"
    CA_IMPORTED = "ca.imported", "CA imported"
    SCEP_RA_ISSUED = "ca.ra_issued", "SCEP RA certificate issued"
    CHALLENGE_CREATED = "scep.challenge_created", "SCEP challenge issued"
    SCEP_REJECTED = "scep.rejected", "SCEP request rejected"
    CERTIFICATE_ISSUED = "certificate.issued", "Certificate issued"
    CERTIFICATE_RENEWED = "certificate.renewed", "Certificate renewed"
    CERTIFICATE_REVOKED = "certificate.revoked", "Certificate revoked"
    # registrations
    REGISTRATION_STARTED = "registration.started", "Registration started"
    PROFILE_DOWNLOADED = "registration.profile_downloaded", "Enrollment profile downloaded"
    REGISTRATION_ENROLLED = "registration.enrolled", "Registration completed"
    REGISTRATION_EXPIRED = "registration.expired", "Registration expired"
    REGISTRATION_CANCELLED = "registration.cancelled", "Registration cancelled"
    REGISTRATION_SUPERSEDED = "registration.superseded", "Registration superseded"
    QR_TOKEN_CREATED = "registration.qr_created", "Registration QR code shown"
    APP_REGISTRATION_REFUSED = "registration.app_refused", "In-app registration refused"
    REGISTRATION_REREGISTER_REQUESTED = "registration.reregister", "Re-registration requested"
    # Apple account-driven enrollment
    MANAGED_DOMAIN_ADDED = "account.domain_added", "Managed domain added"
    MANAGED_DOMAIN_REMOVED = "account.domain_removed", "Managed domain removed"
    ACCOUNT_TOKEN_ISSUED = "account.token_issued", "Account enrollment token issued"
    ACCOUNT_TOKEN_USED = "account.token_used", "Account enrollment token used"
    ACCOUNT_ENROLLMENT_REFUSED = "account.enrollment_refused", "Account enrollment refused"
    # devices
    DEVICE_REGISTERED = "device.registered", "Device registered"
    DEVICE_REREGISTERED = "device.reregistered", "Device re-registered"
    DEVICE_INACTIVE = "device.inactive", "Device inactive"
    # Apple MDM (devices app)
    APPLE_SETTINGS_SAVED = "apple.settings_saved", "Apple MDM settings saved"
    DEVICE_AUTHENTICATED = "device.authenticated", "Device authenticated (MDM)"
    DEVICE_IDENTITY_REJECTED = "device.identity_rejected", "Device identity rejected"
    DEVICE_CHECKIN_REJECTED = "device.checkin_rejected", "Device check-in rejected"
    DEVICE_UNRECOGNIZED = "device.unrecognized", "Retired/wiped device refused"
    DEVICE_ENROLLMENT_REFUSED = "device.enrollment_refused", "Enrollment refused (closed)"
    DEVICE_RETIRED = "device.retired", "Device retired"
    DEVICE_WIPED = "device.wiped", "Device wiped"
    USER_CHANNEL_ACCEPTED = "device.user_channel_accepted", "Mac user channel accepted"
    USER_CHANNEL_DECLINED = "device.user_channel_declined", "Mac user channel declined"
    BOOTSTRAP_TOKEN_ESCROWED = "device.bootstrap_token_escrowed", "Bootstrap token escrowed"
    IDENTITY_RENEWAL_QUEUED = "device.identity_renewal_queued", "Identity renewal sent"
    IDENTITY_RENEWED = "device.identity_renewed", "Identity renewed"
    IDENTITY_RENEWAL_FAILED = "device.identity_renewal_failed", "Identity renewal failed"
    IDENTITY_RENEWAL_REFUSED = "device.identity_renewal_refused", "Identity renewal refused"
    IDENTITY_RENEWAL_POLICY_SAVED = "ca.renewal_policy_saved", "Identity renewal policy saved"
    COMMAND_QUEUED = "command.queued", "MDM command queued"
    # configuration profiles
    PROFILE_SIGNING_CERT_CREATED = "profile.signing_certificate_created", \
        "Profile-signing certificate created"
    CONFIG_PROFILE_CREATED = "profile.created", "Configuration profile created"
    CONFIG_PROFILE_UPDATED = "profile.updated", "Configuration profile updated"
    CONFIG_PROFILE_DELETED = "profile.deleted", "Configuration profile deleted"
    # invitations and PINs
    REGISTRATION_POLICY_SAVED = "registration.policy_saved", "Registration settings saved"
    REGISTRATION_LINK_CREATED = "registration.link_created", "Registration URL generated"
    REGISTRATION_LINK_REVOKED = "registration.link_revoked", "Registration URL revoked"
    REGISTRATION_LINK_REJECTED = "registration.link_rejected", "Invalid registration URL opened"
    REGISTRATION_PASSWORD_SET = "registration.password_set", "Password set during registration"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_REVOKED = "invitation.revoked", "Invitation replaced"
    INVITATION_OPENED = "invitation.opened", "Invitation opened"
    INVITATION_USED = "invitation.used", "Invitation used"
    INVITATIONS_EXPIRED = "invitation.expired", "Invitations expired"
    INVITATION_EMAIL_FAILED = "invitation.email_failed", "Invitation email not delivered"
    PIN_ISSUED = "pin.issued", "Registration PIN issued"
    PIN_VERIFIED = "pin.verified", "Registration PIN accepted"
    PIN_FAILED = "pin.failed", "Wrong registration PIN"
    PIN_LOCKED = "pin.locked", "Registration PIN locked"
    # pushes, reminders and expiry sweeps (workers)
    APNS_CERTIFICATE_UPLOADED = "push.apns_certificate_uploaded", "APNs MDM certificate uploaded"
    APNS_CERTIFICATE_EXPIRING = "push.apns_certificate_expiring", \
        "APNs MDM certificate expires soon"
    APNS_CERTIFICATE_REQUEST_CREATED = "push.apns_request_created", \
        "APNs certificate request created"
    MDM_VENDOR_CERTIFICATE_SAVED = "push.vendor_certificate_saved", "MDM vendor certificate saved"
    APNS_CERTIFICATE_MATCHED = "push.apns_certificate_matched", \
        "Apple's push certificate matched its request"
    APNS_CERTIFICATE_UNMATCHED = "push.apns_certificate_unmatched", \
        "APNs certificate refused: it matches no request"
    APNS_TOPIC_CHANGE_REFUSED = "push.apns_topic_change_refused", \
        "APNs topic change refused (not confirmed)"
    APNS_TOPIC_CHANGE_CONFIRMED = "push.apns_topic_change_confirmed", \
        "APNs topic change confirmed"
    APP_PUSH_CREDENTIALS_SAVED = "push.app_credentials_saved", "App push credentials saved"
    PUSH_TOKEN_INVALID = "push.token_invalid", "Push token rejected (device flagged)"
    PUSHES_FAILED = "push.failed", "Pushes not delivered"
    REMINDER_POLICY_SAVED = "reminder.policy_saved", "Reminder cadence saved"
    REMINDER_SENT = "reminder.sent", "Registration reminder sent"
    CHALLENGES_EXPIRED = "scep.challenges_expired", "SCEP challenges expired"
    PROFILE_TOKENS_EXPIRED = "registration.profile_tokens_expired", \
        "Profile download links expired"
    PINS_EXPIRED = "pin.expired", "Registration PINs expired"
    QR_TOKENS_EXPIRED = "registration.qr_tokens_expired", "App QR codes expired"
    # Android Enterprise (AMAPI)
    ANDROID_SETTINGS_SAVED = "android.settings_saved", "Android Enterprise settings saved"
    ANDROID_SIGNUP_STARTED = "android.signup_started", "Android Enterprise sign-up started"
    ANDROID_SIGNUP_REJECTED = "android.signup_rejected", "Android Enterprise sign-up refused"
    ANDROID_ENTERPRISE_BOUND = "android.enterprise_bound", "Android Enterprise bound"
    ANDROID_ENTERPRISE_UNBOUND = "android.enterprise_unbound", "Android Enterprise unbound"
    ANDROID_TOKEN_CREATED = "android.token_created", "Android enrollment token created"
    ANDROID_TOKEN_REVOKED = "android.token_revoked", "Android enrollment token revoked"
    ANDROID_NOTIFICATION_REJECTED = "android.notification_rejected", \
        "Android notification rejected"
    ANDROID_COMMAND_ISSUED = "android.command_issued", "Android command issued"
    ANDROID_COMMAND_FINISHED = "android.command_finished", "Android command finished"
    ANDROID_DEVICE_REMOVED = "android.device_removed", "Android device removed from Google"
    DEVICE_DELETED = "device.deleted", "Device deleted"
    DEVICE_REREGISTER_REQUESTED = "device.reregister_requested", "Device re-registration requested"
    DEVICE_PUSH_REQUESTED = "device.push_requested", "Device push requested"
