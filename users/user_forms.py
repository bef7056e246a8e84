"""Admin-portal forms for adding users (rows or CSV) and bulk actions on the Users page."""

from __future__ import annotations

from django import forms

MAX_CSV_BYTES = 10 * 1024 * 1024


class NewUserRowForm(forms.Form):
    email = forms.EmailField(max_length=254, required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(max_length=256, required=False, strip=False,
                               widget=forms.PasswordInput(),  # never echoed back
                               help_text="Optional. Leave empty to send a PIN instead.")
    temporary_password = forms.BooleanField(required=False,
                                            help_text="User must change it at first sign-in")
    require_pin = forms.BooleanField(required=False)


NewUserRowFormSet = forms.formset_factory(NewUserRowForm, extra=5, max_num=200,
                                          validate_max=True)


class AddUsersOptionsForm(forms.Form):
    send_invitation = forms.BooleanField(required=False, initial=True,
                                         label="Send registration invitations now")


class ImportCsvForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with a header: email, first_name, last_name, "
                                     "password, temporary_password, require_pin")
    send_invitation = forms.BooleanField(required=False, initial=False,
                                         label="Send registration invitations now")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB; split it.")
        return upload


class BulkUserActionForm(forms.Form):
    ACTIONS = [("invite", "Send invitation"), ("disable", "Disable"), ("enable", "Enable")]
    action = forms.ChoiceField(choices=ACTIONS)
    users = forms.TypedMultipleChoiceField(coerce=int, choices=())

    def __init__(self, *args, user_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].choices = [(pk, pk) for pk in user_ids]
