"""Words: tips for caregivers and the templates of every message we send.

Both are reviewed data files in `content/library/` loaded by `manage.py load_content`. A tip or
template that disappears from the files is retired (active=False), never deleted: the outbox
keeps pointing at what was actually sent.
"""

from __future__ import annotations

from django.db import models


class Category(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tip(models.Model):
    """A short piece of guidance, as SMS text and as a longer email, in one language.

    `version` starts at 1 and goes up whenever the text changes, from the files or in the admin.
    `file_hash` is the hash of the file entry last loaded: an unchanged file never overwrites an
    edit made in the admin, a changed one does.
    """

    slug = models.SlugField(max_length=80, help_text="The same in every language the tip is written in.")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="tips")
    language = models.CharField(max_length=8, default="en", db_index=True)
    title = models.CharField(max_length=120)
    sms_body = models.TextField(help_text="At most two SMS segments (306 GSM-7 characters).")
    email_markdown = models.TextField()
    email_html = models.TextField(editable=False)
    email_text = models.TextField(editable=False)
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=200, help_text="A public citation of what this rests on (shown in the API).")
    discreet = models.BooleanField(default=True, help_text="False only if the SMS must name a drug or diagnosis.")
    version = models.PositiveIntegerField(default=1)
    file_hash = models.CharField(max_length=64, blank=True)
    reviewed_at = models.DateField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["category__position", "slug"]
        indexes = [models.Index(fields=["active", "language", "category"])]
        # One slug per tip across languages: `say-how-are-you` in English and in Spanish.
        constraints = [models.UniqueConstraint(fields=["slug", "language"], name="unique_tip_per_language")]

    def __str__(self) -> str:
        return self.title


class MessageTemplate(models.Model):
    """The words of a reminder or a system reply (confirmation, HELP, STOP, RIDE...).

    Sources are Django templates; the email body renders to Markdown, then to HTML.
    """

    key = models.SlugField(max_length=60)
    language = models.CharField(max_length=8, default="en")
    description = models.CharField(max_length=200, blank=True)
    sms = models.TextField()
    email_subject = models.CharField(max_length=200, blank=True)
    email_body = models.TextField(blank=True)
    sample = models.JSONField(default=dict, blank=True, help_text="A worst-case context used to validate it.")
    version = models.PositiveIntegerField(default=1)
    file_hash = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "language"]
        constraints = [models.UniqueConstraint(fields=["key", "language"], name="unique_template_per_language")]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"
