"""Words for the platform's codes that more than one part of the site shows."""

from flask_babel import lazy_gettext

ATTENDEE_TYPE_LABELS = {
    "citizen": lazy_gettext("Citizen"),
    "person_with_disability": lazy_gettext("Person with a disability"),
    "senior": lazy_gettext("Senior"),
    "companion": lazy_gettext("Companion or carer"),
    "student": lazy_gettext("Student"),
    "public_official": lazy_gettext("Public official"),
    "company_staff": lazy_gettext("Company employee"),
    "investor": lazy_gettext("Investor"),
    "press": lazy_gettext("Press"),
    "other": lazy_gettext("Other"),
}
