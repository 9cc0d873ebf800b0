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
KIND_LABELS = {
    "attendee": lazy_gettext("Visitor"),
    "company": lazy_gettext("Company"),
    "investor": lazy_gettext("Investor"),
}
# the taxonomy's categories that people choose tags from
CATEGORY_LABELS = {
    "target_group": lazy_gettext("People the technology is for"),
    "digital_right": lazy_gettext("Digital basic rights"),
    "technology": lazy_gettext("Technologies"),
}
# the languages people choose to be written to in, named in the page's language
LANGUAGE_LABELS = {"ko": lazy_gettext("Korean"), "en": lazy_gettext("English")}
