"""Load an official holiday schedule (国务院办公厅 节假日安排) for one year."""

import json

from django.core.management.base import BaseCommand, CommandError

from tongban.cases.deadlines import clear_schedule_cache
from tongban.cases.models import HolidayYear


class Command(BaseCommand):
    help = (
        'holidays-load --year 2027 --file schedule.json  ({"holidays": [...], "workdays": [...]})'
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--file", required=True)
        parser.add_argument("--source", default="")

    def handle(self, *args, year, file, source, **opts):
        import datetime as dt

        try:
            with open(file, encoding="utf-8") as fh:
                data = json.load(fh)
            holidays = sorted({dt.date.fromisoformat(d) for d in data.get("holidays", [])})
            workdays = sorted({dt.date.fromisoformat(d) for d in data.get("workdays", [])})
        except (OSError, ValueError, AttributeError) as exc:
            raise CommandError(f"cannot read schedule: {exc}") from exc
        if any(d.year != year for d in [*holidays, *workdays]):
            raise CommandError("every date must lie in the given year")
        if any(d.weekday() < 5 for d in workdays):
            raise CommandError("adjusted working days (调休) must be weekend days")
        HolidayYear.objects.update_or_create(
            year=year,
            defaults={
                "holidays": [d.isoformat() for d in holidays],
                "workdays": [d.isoformat() for d in workdays],
                "source": source,
            },
        )
        clear_schedule_cache()
        self.stdout.write(
            f"{year}: {len(holidays)} holidays, {len(workdays)} adjusted working days"
        )
