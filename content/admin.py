from django import forms
from django.contrib import admin

from . import services
from .models import Category, MessageTemplate, Tip
from .validation import template_entry_problems


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    ordering = ["position"]


class TipForm(forms.ModelForm):
    class Meta:
        model = Tip
        fields = ["category", "title", "sms_body", "email_markdown", "tags", "discreet", "active"]

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk is None:
            return cleaned
        edited = Tip.objects.get(pk=self.instance.pk)
        for name in self.changed_data:
            setattr(edited, name, cleaned.get(name))
        for name, messages in services.tip_edit_problems(tip=edited).items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return cleaned


@admin.register(Tip)
class TipAdmin(admin.ModelAdmin):
    form = TipForm
    list_display = ["title", "slug", "category", "language", "version", "active", "updated_at"]
    list_filter = ["active", "category", "language"]
    search_fields = ["slug", "title", "sms_body", "email_markdown"]
    readonly_fields = ["slug", "version", "source", "reviewed_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False  # new tips are reviewed in content/library/ and loaded with load_content

    def save_model(self, request, obj, form, change) -> None:
        services.tip_update(tip=Tip.objects.get(pk=obj.pk), **{f: form.cleaned_data[f] for f in form.changed_data})


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["description", "sms", "email_subject", "email_body", "sample", "active"]

    def clean(self):
        cleaned = super().clean()
        entry = {
            "key": self.instance.key,
            **{k: v for k, v in cleaned.items() if k != "active" and v not in (None, "")},
        }
        for field, message in template_entry_problems(entry):
            self.add_error(field if field in self.fields else None, f"{field} {message}.")
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["key", "language", "description", "version", "active"]
    list_filter = ["language", "active"]
    search_fields = ["key", "sms", "email_body"]
    readonly_fields = ["key", "language", "version"]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if {"sms", "email_subject", "email_body"} & set(form.changed_data):
            obj.version += 1
        super().save_model(request, obj, form, change)
