"""Admin portal: Settings > Certificate authority (with the identity renewal policy), and the
issued-certificates list."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.origin import Origin
from core.portal import admin_required, paginate
from enrollment.filtersets import IssuedCertificateFilterSet
from enrollment.forms import GenerateCAForm, ImportCAForm, RenewalPolicyForm, RevokeForm
from enrollment.links import scep_url
from enrollment.models import CertificateAuthority, IssuedCertificate
from enrollment.services.authorities import active_authority, do_generate_ca, do_import_ca
from enrollment.services.certificates import do_revoke_certificate
from enrollment.services.renewal_policy import (
    POLICY_FIELDS,
    RenewalPolicyInvalid,
    do_save_renewal_policy,
    renewal_policy,
)


@admin_required
@require_http_methods(["GET", "POST"])
def certificate_authority(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = request.tenant
    generate_form = GenerateCAForm(initial={"common_name": f"{tenant.name} MDM CA",
                                            "organization": tenant.name})
    import_form = ImportCAForm()
    policy = renewal_policy(tenant)
    policy_form = RenewalPolicyForm(initial={name: getattr(policy, name)
                                             for name in POLICY_FIELDS})
    status = 200
    if request.method == "POST" and request.POST.get("action") == "generate":
        generate_form = GenerateCAForm(request.POST)
        if generate_form.is_valid():
            do_generate_ca(tenant, actor=request.user, origin=Origin.of(request),
                           **generate_form.cleaned_data)
            messages.success(request, "A new CA was generated and now issues certificates.")
            return redirect("portal:ca", tenant_slug=tenant_slug)
        status = 400
    elif request.method == "POST" and request.POST.get("action") == "import":
        import_form = ImportCAForm(request.POST, request.FILES)
        if import_form.is_valid():
            do_import_ca(tenant, import_form.key_pair, actor=request.user,
                         origin=Origin.of(request))
            messages.success(request, "The CA was imported and now issues certificates.")
            return redirect("portal:ca", tenant_slug=tenant_slug)
        status = 400
    elif request.method == "POST" and request.POST.get("action") == "renewal_policy":
        policy_form = RenewalPolicyForm(request.POST)
        if _save_policy(request, policy_form):
            messages.success(request, "Identity renewal policy saved.")
            return redirect("portal:ca", tenant_slug=tenant_slug)
        status = 400
    return render(request, "enrollment/ca.html", {
        "active": active_authority(tenant),
        "authorities": CertificateAuthority.objects.for_tenant(tenant),
        "generate_form": generate_form, "import_form": import_form,
        "policy_form": policy_form, "policy": policy,
        "identity_validity_days": settings.MDM_CERTIFICATE_VALIDITY_DAYS,
        "scep_url": scep_url(tenant),
    }, status=status)


def _save_policy(request: HttpRequest, form: RenewalPolicyForm) -> bool:
    """Saved, or the form carries the service's refusal on its fields."""
    if not form.is_valid():
        return False
    try:
        do_save_renewal_policy(request.tenant, actor=request.user, origin=Origin.of(request),
                               **form.cleaned_data)
    except RenewalPolicyInvalid as exc:
        for name, words in exc.errors.items():
            form.add_error(name if name in form.fields else None,
                           f"{words[:1].upper()}{words[1:]}.")
        return False
    return True


@admin_required
def download_ca_certificate(request: HttpRequest, tenant_slug: str, ca_id: int) -> HttpResponse:
    ca = CertificateAuthority.objects.get_in_tenant(request.tenant, pk=ca_id)
    pem = x509.load_der_x509_certificate(bytes(ca.certificate_der)).public_bytes(Encoding.PEM)
    pem += ca.chain_pem.encode()
    response = HttpResponse(pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{tenant_slug}-ca-{ca.pk}.pem"'
    return response


@admin_required
def certificate_list(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    certificates = IssuedCertificate.objects.for_tenant(request.tenant).select_related("device")
    filterset = IssuedCertificateFilterSet(request.GET or None, queryset=certificates)
    return render(request, "enrollment/certificates.html", {
        "filterset": filterset, **paginate(request, filterset.qs),
        "revoke_form": RevokeForm(auto_id=False),  # one per row: no duplicate ids
    })


@admin_required
@require_POST
def revoke_certificate(request: HttpRequest, tenant_slug: str, certificate_id: int):
    certificate = IssuedCertificate.objects.get_in_tenant(request.tenant, pk=certificate_id)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a revocation reason.")
    elif do_revoke_certificate(request.tenant, certificate, actor=request.user,
                               origin=Origin.of(request),
                               reason=form.cleaned_data["reason"]):
        messages.success(request, f"Certificate {certificate} revoked.")
    else:
        messages.info(request, f"Certificate {certificate} was already revoked.")
    return redirect("portal:certificates", tenant_slug=tenant_slug)
