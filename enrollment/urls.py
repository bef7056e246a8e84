"""Pages and endpoints of the enrollment app; `mdm_server/urls.py` mounts each list:

- `portal_patterns`: admin portal pages (/t/<tenant_slug>/admin/, "portal" namespace);
- `selfservice_patterns`: the self-service portal's registration pages (/t/<tenant_slug>/portal/);
- `tenant_device_patterns`: the enrollment profile download and account-driven enrollment
  (its endpoint and web sign-in) (/t/<tenant_slug>/);
- `well_known_patterns`: Apple's service discovery (/.well-known/, no tenant in the URL);
- `app_patterns`: the agent app's API (/t/<tenant_slug>/app/v1/);
- `link_patterns`: registration links (/r/, "go" namespace), the tenant named by the token;
- `protocol_patterns`: SCEP, first and flat (devices call it all day).
"""

from django.urls import path, re_path

from enrollment.account import sign_in as account_sign_in
from enrollment.account.discovery import service_discovery
from enrollment.account.views import account_enroll
from enrollment.android.views import android_settings, android_signup_callback
from enrollment.api.app import AppRegisterView, AppRegistrationView, AppReregisterView
from enrollment.apple.views import enrollment_profile
from enrollment.scep.views import scep
from enrollment.selfservice import register
from enrollment.selfservice import views as go_views
from enrollment.views import authorities, registration_settings, registrations

portal_patterns = [
    path("registrations/", registrations.registration_list, name="registrations"),
    path("settings/ca/", authorities.certificate_authority, name="ca"),
    path("settings/ca/<int:ca_id>/certificate.pem", authorities.download_ca_certificate,
         name="ca-download"),
    path("certificates/", authorities.certificate_list, name="certificates"),
    path("certificates/<int:certificate_id>/revoke/", authorities.revoke_certificate,
         name="revoke-certificate"),
    path("settings/registration/", registration_settings.registration_settings,
         name="registration-settings"),
    path("settings/android/", android_settings, name="android-settings"),
    path("settings/android/callback/", android_signup_callback, name="android-callback"),
]

selfservice_patterns = [
    path("register/", register.register, name="register"),
    path("registrations/<int:registration_id>/", register.registration_status,
         name="registration"),
    path("app-qr/", register.app_qr, name="app-qr"),
]

ACCOUNT_MODE = r"(?P<mode>adde|byod)"

tenant_device_patterns = [
    path("enroll/apple/<str:token>.mobileconfig", enrollment_profile,
         name="apple-enrollment-profile"),
    # Apple account-driven enrollment: the BaseURL, then the web sign-in its 401 names.
    re_path(rf"^enroll/account/{ACCOUNT_MODE}$", account_enroll, name="apple-account-enroll"),
    re_path(rf"^enroll/account/{ACCOUNT_MODE}/sign-in$", account_sign_in.account_sign_in,
            name="apple-account-sign-in"),
    re_path(rf"^enroll/account/{ACCOUNT_MODE}/sign-in/pin$", account_sign_in.account_pin,
            name="apple-account-pin"),
    re_path(rf"^enroll/account/{ACCOUNT_MODE}/sign-in/password$",
            account_sign_in.account_password, name="apple-account-password"),
]

# Apple's service discovery, at the root of this host (the customer's domain points here).
well_known_patterns = [
    path(".well-known/com.apple.remotemanagement", service_discovery,
         name="apple-account-discovery"),
]

app_patterns = [
    path("register", AppRegisterView.as_view(), name="app-register"),
    path("registration", AppRegistrationView.as_view(), name="app-registration"),
    path("reregister", AppReregisterView.as_view(), name="app-reregister"),
]

# Versions and tokens are matched as plain strings so that any malformed, old-format or unknown
# link reaches a view and gets the 410 "no longer valid" page instead of a bare 404.
link_patterns = [
    path("<str:version>/<str:token>/go", go_views.go, name="go"),
    path("<str:version>/<str:token>/i/<str:invitation>/go", go_views.go_invitation,
         name="go-invitation"),
    path("<str:version>/<str:token>/go/pin", go_views.go_pin, name="pin"),
    path("<str:version>/<str:token>/go/password", go_views.go_set_password, name="password"),
    re_path(r"^.*$", go_views.link_gone, name="gone"),
]

protocol_patterns = [
    path("t/<slug:tenant_slug>/scep", scep, name="scep"),
    path("t/<slug:tenant_slug>/scep/pkiclient.exe", scep),
]
