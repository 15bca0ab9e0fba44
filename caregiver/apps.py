from django.apps import AppConfig


class CaregiverConfig(AppConfig):
    name = "caregiver"
    verbose_name = "Clinics and families"
