"""The tag taxonomy: Seoul's six digital basic rights, target groups, technologies, company
stages and investor types, with Korean and English labels and the synonyms people type.

Tags given in either language, in any case, with spaces or hyphens, or by a known synonym are
normalised to the taxonomy's ids.
"""

import re
import unicodedata
from dataclasses import dataclass

MATCHING_CATEGORIES = ("digital_right", "target_group", "technology")


@dataclass(frozen=True)
class Tag:
    id: str
    category: str
    ko: str
    en: str
    synonyms: tuple[str, ...] = ()


_TAGS = (
    # Seoul's six digital basic rights (디지털 기본권)
    Tag("communication", "digital_right", "통신", "Communication", ("connectivity", "wifi")),
    Tag("mobility", "digital_right", "이동", "Mobility", ("transport", "이동권")),
    Tag("education", "digital_right", "교육", "Education", ("learning", "edtech")),
    Tag(
        "health_safety",
        "digital_right",
        "건강·안전",
        "Health and safety",
        ("health", "safety", "건강", "안전", "건강안전", "healthcare"),
    ),
    Tag(
        "digital_use",
        "digital_right",
        "디지털활용",
        "Digital use",
        ("digital literacy", "디지털 활용", "digital inclusion"),
    ),
    Tag(
        "data_use",
        "digital_right",
        "데이터이용",
        "Data use",
        ("open data", "데이터 이용", "public data", "공공데이터"),
    ),
    # Target groups (약자)
    Tag("elderly", "target_group", "어르신", "Seniors", ("senior", "seniors", "older adults", "노인")),
    Tag(
        "visual_impairment",
        "target_group",
        "시각장애",
        "Visual impairment",
        ("blind", "low vision", "visually impaired", "시각장애인"),
    ),
    Tag(
        "hearing_impairment",
        "target_group",
        "청각장애",
        "Hearing impairment",
        ("deaf", "hard of hearing", "청각장애인", "농인"),
    ),
    Tag(
        "physical_disability",
        "target_group",
        "지체장애",
        "Physical disability",
        ("wheelchair users", "mobility impairment", "지체장애인"),
    ),
    Tag(
        "developmental_disability",
        "target_group",
        "발달장애",
        "Developmental disability",
        ("intellectual disability", "autism", "발달장애인"),
    ),
    Tag("dementia", "target_group", "치매", "Dementia", ("alzheimer", "alzheimers")),
    Tag("low_income", "target_group", "저소득층", "Low-income families", ("low income", "poverty", "저소득")),
    Tag(
        "children_youth",
        "target_group",
        "아동·청소년",
        "Children and youth",
        ("children", "youth", "아동", "청소년", "아동청소년"),
    ),
    Tag(
        "career_break_women",
        "target_group",
        "경력단절여성",
        "Career-break women",
        ("career break women", "경단녀"),
    ),
    Tag(
        "multicultural",
        "target_group",
        "다문화가정",
        "Multicultural families",
        ("multicultural families", "migrants", "다문화"),
    ),
    Tag(
        "single_household",
        "target_group",
        "1인가구",
        "Single-person households",
        ("single person households", "living alone", "1인 가구"),
    ),
    # Technologies
    Tag("ai", "technology", "인공지능", "AI", ("artificial intelligence", "machine learning", "AI")),
    Tag(
        "speech_to_text",
        "technology",
        "음성인식·문자통역",
        "Speech to text",
        ("stt", "captioning", "real-time captions", "문자통역", "음성인식"),
    ),
    Tag("sign_language", "technology", "수어", "Sign language", ("수어통역", "sign language avatar")),
    Tag(
        "voice_interface",
        "technology",
        "음성 인터페이스",
        "Voice interface",
        ("voice assistant", "conversational voice", "음성쇼핑"),
    ),
    Tag(
        "vr_ar",
        "technology",
        "가상·증강현실",
        "VR / AR",
        ("vr", "ar", "virtual reality", "augmented reality", "xr"),
    ),
    Tag("iot", "technology", "사물인터넷", "IoT", ("internet of things", "sensors")),
    Tag("robotics", "technology", "로봇", "Robotics", ("robot", "robots", "care robot")),
    Tag(
        "autonomous_mobility",
        "technology",
        "자율주행",
        "Autonomous mobility",
        ("autonomous driving", "self-driving", "autonomous bus"),
    ),
    Tag(
        "kiosk_accessibility",
        "technology",
        "배리어프리 키오스크",
        "Accessible kiosks",
        ("kiosk", "barrier-free kiosk", "키오스크"),
    ),
    Tag("wearables", "technology", "웨어러블", "Wearables", ("wearable",)),
    Tag("big_data", "technology", "빅데이터", "Big data", ("data analytics",)),
    Tag("metaverse", "technology", "메타버스", "Metaverse", ()),
    Tag("mobile_app", "technology", "모바일 앱", "Mobile app", ("app", "smartphone app", "앱")),
    # Company stages
    Tag("idea", "stage", "아이디어", "Idea", ("pre-seed", "예비창업")),
    Tag("seed", "stage", "시드", "Seed", ()),
    Tag("pre_a", "stage", "프리A", "Pre-Series A", ("pre-a", "pre series a")),
    Tag("series_a", "stage", "시리즈A", "Series A", ()),
    Tag("series_b_plus", "stage", "시리즈B 이상", "Series B and later", ("series b", "series c")),
    Tag("growth", "stage", "성장기", "Growth", ("scale-up", "scaleup")),
    # Investor types
    Tag("vc", "investor_type", "벤처캐피털", "Venture capital", ("venture capital",)),
    Tag("angel", "investor_type", "엔젤투자자", "Angel investor", ("angel investor",)),
    Tag("impact", "investor_type", "임팩트투자", "Impact investor", ("impact investor",)),
    Tag("public_fund", "investor_type", "공공펀드", "Public fund", ("government fund", "정책펀드")),
    Tag("corporate_vc", "investor_type", "기업형 벤처캐피털", "Corporate VC", ("cvc",)),
    Tag("accelerator", "investor_type", "액셀러레이터", "Accelerator", ("ac", "incubator")),
)

TAGS: dict[str, Tag] = {tag.id: tag for tag in _TAGS}
STAGES: tuple[str, ...] = tuple(tag.id for tag in _TAGS if tag.category == "stage")
MATCHING_TAGS: tuple[str, ...] = tuple(tag.id for tag in _TAGS if tag.category in MATCHING_CATEGORIES)
INVESTOR_TYPES: tuple[str, ...] = tuple(tag.id for tag in _TAGS if tag.category == "investor_type")


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    return re.sub(r"[\s_\-·/]+", "", folded)


_LOOKUP: dict[str, str] = {}
for _tag in _TAGS:
    for _name in (_tag.id, _tag.ko, _tag.en, *_tag.synonyms):
        _LOOKUP.setdefault(_key(_name), _tag.id)


def normalise(text: str, categories: tuple[str, ...] = MATCHING_CATEGORIES) -> str | None:
    """The taxonomy id for ``text`` if it names a tag in one of ``categories``, else None."""
    tag_id = _LOOKUP.get(_key(text))
    if tag_id is None or TAGS[tag_id].category not in categories:
        return None
    return tag_id


def category_of(tag_id: str) -> str:
    return TAGS[tag_id].category


def label(tag_id: str, language: str) -> str:
    tag = TAGS[tag_id]
    return tag.ko if language == "ko" else tag.en


def as_document() -> dict:
    """The taxonomy grouped by category, as served by ``GET /api/v1/tags``."""
    grouped: dict[str, list[dict]] = {}
    for tag in _TAGS:
        grouped.setdefault(tag.category, []).append(
            {"id": tag.id, "ko": tag.ko, "en": tag.en, "synonyms": list(tag.synonyms)}
        )
    return {"categories": [{"id": name, "tags": tags} for name, tags in grouped.items()]}
