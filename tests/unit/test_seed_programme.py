"""The demo programme ``make seed`` makes, worked out from the day and hour it runs."""

from datetime import date, datetime, timedelta

from deploy.local import seed
from shared.clock import SEOUL


def test_the_seeded_expo_is_under_way_whatever_the_hour_the_seed_runs():
    for hour in (0, 1, 9, 10, 12, 23):
        now = datetime(2026, 12, 2, hour, 30, tzinfo=SEOUL)
        dates = seed.expo_dates(now)
        starts = datetime.strptime(dates["starts_at"], "%Y-%m-%d %H:%M").replace(tzinfo=SEOUL)
        ends = datetime.strptime(dates["ends_at"], "%Y-%m-%d %H:%M").replace(tzinfo=SEOUL)
        assert starts <= now < ends and ends - now >= timedelta(hours=18), hour


def test_town_halls_are_on_third_thursdays_two_past_and_the_next():
    (*past, upcoming) = [event for event, _ in seed.programme(date(2026, 12, 2))]
    days = [datetime.strptime(event["starts_at"], "%Y-%m-%d %H:%M").date() for event in (*past, upcoming)]
    assert all(day.weekday() == 3 and 15 <= day.day <= 21 for day in days)
    assert days[0] < days[1] < date(2026, 12, 2) <= days[2]
