"""Where a user stands in the /go flow: which factors they proved (kept in the session, bound
to one registration link for 30 minutes) and what comes next. Account-driven enrollment's
sign-in page walks the same steps, by the same rules, under its own session key."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import ClassVar

from enrollment.services.policies import needs_password, pin_required
from users.models import User, UserSource

SESSION_KEY = "mdm_go_flow"
FLOW_SECONDS = 30 * 60
PHONE_PLATFORMS = ("ios", "android")


@dataclass
class GoFlow:
    link_id: int
    tenant_id: int
    started: float
    platform: str = ""
    invitation_id: int | None = None
    email: str = ""
    password_user: int | None = None  # signed in with a password (or network credentials)
    pin_user: int | None = None       # entered a correct one-time PIN

    session_key: ClassVar[str] = SESSION_KEY

    @classmethod
    def load(cls, session, link) -> GoFlow:
        return cls.load_scoped(session, link.pk, link.tenant_id)

    @classmethod
    def load_scoped(cls, session, scope_id: int, tenant_id: int) -> GoFlow:
        """The flow kept under ``cls.session_key`` for this scope (a registration link's id;
        another entry point, such as account-driven sign-in, uses a key and scope of its
        own) and tenant, or a fresh one."""
        raw = session.get(cls.session_key)
        if isinstance(raw, dict):
            try:
                flow = cls(**raw)
            except TypeError:
                flow = None
            if (flow is not None and flow.link_id == scope_id and flow.tenant_id == tenant_id
                    and time.time() - flow.started < FLOW_SECONDS):
                return flow
        return cls(link_id=scope_id, tenant_id=tenant_id, started=time.time())

    def save(self, session) -> None:
        session[self.session_key] = asdict(self)

    @classmethod
    def clear(cls, session) -> None:
        session.pop(cls.session_key, None)

    def proved_password(self, user: User) -> None:
        if self.pin_user not in (None, user.pk):
            self.pin_user = None
        self.password_user = user.pk

    def proved_pin(self, user: User) -> None:
        if self.password_user not in (None, user.pk):
            self.password_user = None
        self.pin_user = user.pk

    def user(self) -> User | None:
        user_id = self.password_user or self.pin_user
        if user_id is None:
            return None
        return User.objects.filter(pk=user_id, tenant_id=self.tenant_id, is_active=True).first()


def pin_can_sign_in(user: User) -> bool:
    """A PIN alone opens an account that has no password the user knows of their own."""
    return user.source != UserSource.LDAP and (needs_password(user) or user.must_change_password)


def next_step(policy, user: User, flow: GoFlow) -> str:
    """"sign_in", "pin", "set_password" or "done"."""
    has_password = flow.password_user == user.pk
    has_pin = flow.pin_user == user.pk
    if not has_password and not (has_pin and pin_can_sign_in(user)):
        return "sign_in"
    if pin_required(policy, user) and not has_pin:
        return "pin"
    if user.source != UserSource.LDAP and (needs_password(user) or user.must_change_password):
        return "set_password"
    return "done"
