"""Plan now, in this process, instead of waiting for the beat tick: for operators and demos.

manage.py plan_now                    # everyone the tick would plan (changed, or short of the horizon)
manage.py plan_now --caregiver 42     # one caregiver, whatever their marks
manage.py plan_now --send             # then one dispatcher tick, sending what it claims here
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from caregiver.models import Caregiver
from messaging import planning, sending


class Command(BaseCommand):
    help = "Plan messages now (and with --send, send what is due), without Celery."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--caregiver", type=int, metavar="ID", help="plan only this caregiver")
        parser.add_argument("--send", action="store_true", help="then run one dispatcher tick and send in process")

    def handle(self, *args, caregiver: int | None, send: bool, **options) -> None:
        if caregiver is not None and not Caregiver.objects.filter(pk=caregiver).exists():
            raise CommandError(f"There is no caregiver with id {caregiver}.")
        planned = planning.plan_due(caregiver_id=caregiver)
        if caregiver is None and not planned["synced"] and not planned["failed"]:
            self.stdout.write(
                "Nothing needed planning: nobody changed since their last plan, and every plan reaches far "
                "enough ahead. `plan_now --caregiver ID` re-plans one caregiver anyway."
            )
        else:
            self._report(planned)
        problems = Caregiver.objects.exclude(plan_problem="")
        if caregiver is not None:
            problems = problems.filter(pk=caregiver)
        for who in problems[:20]:
            self.stderr.write(f"  caregiver {who.pk} ({who.name}): {who.plan_problem}")
        if send:
            self._send()

    def _report(self, planned: dict[str, int]) -> None:
        self.stdout.write(
            "Planned {synced} caregiver(s): {created} messages created, {updated} updated, {cancelled} cancelled, "
            "{unchanged} unchanged; {failed} failed.".format_map(
                {k: planned.get(k, 0) for k in ("synced", "created", "updated", "cancelled", "unchanged", "failed")}
            )
        )

    def _send(self) -> None:
        claimed, outcomes = sending.due_send_here(now=timezone.now())
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(outcomes.items())) or "nothing"
        self.stdout.write(f"Dispatched {claimed} due message(s): {summary}.")
