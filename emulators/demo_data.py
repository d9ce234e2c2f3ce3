"""Realistic demo data: Vietnamese and English names, several sources, form histories,
pain points, roles and budgets (some meeting the agreement's definition, some not), some contacts
that do not qualify, one Lead Sales already created by hand."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

VIETNAMESE = [("Nguyễn", "Thị Mai"), ("Trần", "Văn Hùng"), ("Lê", "Hoàng Anh"), ("Phạm", "Minh Châu"),
              ("Hoàng", "Gia Bảo"), ("Vũ", "Thu Trang"), ("Đặng", "Quốc Khánh"), ("Bùi", "Ngọc Lan"),
              ("Đỗ", "Đức Thắng"), ("Ngô", "Phương Linh"), ("Dương", "Tuấn Kiệt"), ("Lý", "Thanh Hà")]
ENGLISH = [("Smith", "Olivia"), ("O'Brien", "Liam"), ("Johnson", "Emma"), ("Williams", "Noah"),
           ("Brown", "Ava"), ("Taylor", "Oliver"), ("Davies", "Isla"), ("Evans", "George"),
           ("Thomas", "Amelia"), ("Roberts", "Harry"), ("Walker", "Sophie"), ("Wright", "Jack")]
COMPANIES = ["Saigon Logistics JSC", "Hanoi Fintech Co.", "Mekong Agritech", "Acme Analytics Ltd",
             "Northwind Traders", "Da Nang Hospitality Group", "Brightside Health", "Contoso Retail",
             "VinaSoft Solutions", "Blue River Manufacturing", "Fabrikam Energy", "Huế Heritage Travel"]
TITLES = ["Head of Operations", "CFO", "Marketing Director", "IT Manager", "Founder & CEO",
          "Procurement Lead", "VP Sales", "Giám đốc Vận hành", "Trưởng phòng IT"]
SOURCES = [
    ("ORGANIC_SEARCH", "Google", "crm for logistics", None, None, None),
    ("PAID_SEARCH", "Google Ads", "sales pipeline software", "google", "cpc", "q3-pipeline-search"),
    ("PAID_SOCIAL", "LinkedIn", "ABM Vietnam", "linkedin", "paid-social", "abm-vietnam"),
    ("EMAIL_MARKETING", "Newsletter", "October digest", "hubspot", "email", "oct-digest"),
    ("REFERRALS", "partner.example.com", None, None, None, None),
    ("OFFLINE", "Trade show", "TechFest Hanoi 2026", None, None, "techfest-2026"),
    ("DIRECT_TRAFFIC", None, None, None, None, None),
]
FORMS = ["Pricing page: Request a demo", "Ebook: The 2026 Sales Handoff Playbook",
         "Webinar: Closing the loop between Marketing and Sales", "Contact us", "ROI calculator",
         "Case study: Saigon Logistics cut lead response time by 70%", "Free trial sign-up"]
PAINS = ["Leads go cold before Sales calls them", "No visibility into which campaigns produce revenue",
         "Spreadsheets between teams; data entered twice", "Reps don't know what the prospect already read",
         "Need Vietnamese-language support for the sales team", "Long procurement cycles; need ROI proof"]
CHALLENGES = ["Integrating HubSpot with Salesforce", "Reporting across both systems", "Hiring SDRs",
              "Response time to inbound leads"]
# The agreement's definition parts (mappings/agreement.yaml): the role the form asked for (HubSpot's
# hs_role; absent when the form did not ask) and the budget the lead gave (some under 10,000).
ROLES = ["operations", "sales", "marketing", "information_technology", "finance", "engineering", None]
BUDGETS = [5000, 8000, 12000, 25000, 40000, 80000, None, None]
EMAILS = ["October digest", "Webinar invitation: closing the loop", "Your playbook is ready", "Case study roundup"]


def _slug(text: str) -> str:
    table = str.maketrans("ăâđêôơưĂÂĐÊÔƠƯáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ",
                          "aadeoouAADEOOUaaaaaaaaaaaaaaaeeeeeeeeeeiiiiiooooooooooooooouuuuuuuuuuyyyyy")
    return "".join(ch for ch in text.translate(table).lower() if ch.isalnum() or ch in "'")


@dataclass
class DemoContact:
    properties: dict[str, str]
    conversions: list[tuple[str, dt.datetime]] = field(default_factory=list)  # oldest first


def demo_contacts(count: int = 40, *, seed: int = 7, now: dt.datetime | None = None) -> list[DemoContact]:
    """About two thirds qualify (MQL/SQL with an email); the rest are subscribers and leads."""
    rng = random.Random(seed)
    answers = random.Random(seed + 1)     # role and budget: their own stream, the rest as before
    now = now or dt.datetime.now(dt.timezone.utc)
    names = VIETNAMESE + ENGLISH
    contacts: list[DemoContact] = []
    for index in range(count):
        last, first = names[index % len(names)]
        company = COMPANIES[rng.randrange(len(COMPANIES))]
        domain = _slug(company.split()[0]) + ".example.com"
        email = f"{_slug(first.split()[-1])}.{_slug(last)}{index}@{domain}"
        source = SOURCES[rng.randrange(len(SOURCES))]
        stage = rng.choices(["marketingqualifiedlead", "salesqualifiedlead", "subscriber", "lead"],
                            weights=[5, 2, 2, 2])[0]
        forms = rng.sample(FORMS, rng.randint(1, 4))
        start = now - dt.timedelta(days=rng.randint(5, 60))
        conversions = [(form, start + dt.timedelta(days=i * rng.randint(1, 5), hours=rng.randint(0, 23)))
                       for i, form in enumerate(forms)]
        props = {
            "firstname": first, "lastname": last, "email": email, "company": company,
            "jobtitle": rng.choice(TITLES), "phone": f"+84 {rng.randint(90, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
            if (last, first) in VIETNAMESE else f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            "city": "Hồ Chí Minh" if (last, first) in VIETNAMESE else "London",
            "country": "Vietnam" if (last, first) in VIETNAMESE else "United Kingdom",
            "website": f"https://{domain}",
            "lifecyclestage": stage,
            "hs_analytics_source": source[0],
            "hs_analytics_source_data_1": source[1] or "",
            "hs_analytics_source_data_2": source[2] or "",
            "utm_source": source[3] or "", "utm_medium": source[4] or "", "utm_campaign": source[5] or "",
            "hs_analytics_first_url": f"https://www.example.com/{_slug(forms[0].split(':')[0])}",
            "hs_analytics_last_url": "https://www.example.com/pricing",
            "hs_analytics_num_page_views": str(rng.randint(2, 60)),
            "first_conversion_event_name": forms[0],
            "recent_conversion_event_name": forms[-1],
            "num_conversion_events": str(len(forms)),
            "hs_email_last_email_name": rng.choice(EMAILS),
            "hubspotscore": str(rng.randint(10, 95)),
            "pain_points": rng.choice(PAINS),
            "biggest_challenge": rng.choice(CHALLENGES),
        }
        role, budget = answers.choice(ROLES), answers.choice(BUDGETS)
        props.update(hs_role=role or "", budget_amount=str(budget) if budget else "")
        contacts.append(DemoContact({k: v for k, v in props.items() if v != ""}, conversions))
    return contacts
