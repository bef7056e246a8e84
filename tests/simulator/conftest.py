from tests.android.conftest import (  # noqa: F401  (fixtures)
    configured,
    enterprise,
    service_account_info,
)
