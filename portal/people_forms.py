"""Forms for staff fixing a family (portal.views.staff_people). They parse; services decide."""

from __future__ import annotations

from django import forms

from caregiver.models import Caregiver, LovedOne

from .forms import ChannelsMixin, PhoneField


class CaregiverEditForm(ChannelsMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=80)
    phone = PhoneField(required=False, help_text="A new number is asked to reply YES; nothing else goes to it before.")
    email = forms.EmailField(
        label="Email",
        required=False,
        max_length=254,
        help_text="A new address is sent a link to confirm; nothing else goes to it before.",
    )
    channels = forms.ChoiceField(
        label="How to reach them", choices=Caregiver.Channels.choices, widget=forms.RadioSelect
    )
    language = forms.ChoiceField(label="Language", choices=Caregiver._meta.get_field("language").choices)


class RenameForm(forms.Form):
    first_name = forms.CharField(
        label="Loved one's first name",
        max_length=80,
        help_text="As the family calls them. Texts and emails still to come use the new name.",
    )


class ArchiveForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why",
        choices=LovedOne.ArchiveReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why the family is archived."},
    )


class MergeForm(forms.Form):
    other = forms.ModelChoiceField(
        label="The duplicate family",
        queryset=LovedOne.objects.none(),
        empty_label="Choose a family",
        help_text="Its caregivers and appointments move to this family, then it is removed.",
        error_messages={
            "required": "Choose the family to merge into this one.",
            "invalid_choice": "Choose one of this clinic's open families.",
        },
    )

    def __init__(self, *args, keep: LovedOne, **kwargs):
        super().__init__(*args, **kwargs)
        choices = LovedOne.objects.filter(clinic_id=keep.clinic_id, archived_at__isnull=True).exclude(pk=keep.pk)
        self.fields["other"].queryset = choices.prefetch_related("caregivers").order_by("first_name", "id")
        self.fields["other"].label_from_instance = _family_label


def _family_label(family: LovedOne) -> str:
    names = ", ".join(c.name for c in family.caregivers.all()) or "no caregivers"
    return f"{family.first_name} (#{family.pk}): {names}"
