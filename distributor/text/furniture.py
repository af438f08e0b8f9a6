"""Page furniture: lines a web page puts around a story that are no part of it.

Relative times ("8 months ago", "2 jam lalu"), time stamps ("Kompas.com - 05/05/2022, 19:37
WIB"), breadcrumbs ("Home > Berita > Nasional"), section and box labels ("Headline", "Berita
Terkait", "Populer", "Advertisement", "Scroll to continue", "Tim Redaksi"), share and comment
prompts, subscription and follow prompts, photo credits and captions ("(ANTARA FOTO/...)",
"Foto: ...", "Tribun Medan/Jefri Susetyo"), footers ("Artikel ini telah tayang di ...",
copyright) and reporters' initials ("(fyk/ash)"). They are never a headline, a lede or a
summary. The tables are data: add a publisher's label here, not a code path.
"""

from __future__ import annotations

import re

__all__ = ["LABELS", "is_furniture", "is_initials", "is_photo_credit", "strip_stamp",
           "strip_title_furniture"]

#: lines that are furniture when they are the whole line (case and a final ":" ignored)
LABELS = frozenset({
    # section and box labels
    "headline", "headlines", "berita terkait", "artikel terkait", "terkait", "populer",
    "terpopuler", "paling populer", "berita populer", "terkini", "berita terkini", "terbaru",
    "berita terbaru", "rekomendasi", "berita rekomendasi", "pilihan editor", "editor's picks",
    "editor's pick", "trending", "topik", "topik terkait", "tag", "tags", "tagar", "advertisement",
    "iklan", "scroll to continue", "scroll to continue with content", "scroll untuk melanjutkan",
    "lanjut baca", "tim redaksi", "redaksi", "penulis", "editor", "reporter", "pewarta",
    "kontributor", "sumber", "foto", "video", "galeri", "live", "breaking news", "read more",
    "selengkapnya", "baca selengkapnya", "lihat selengkapnya", "more", "related", "related news",
    "related stories", "most read", "most popular", "latest", "latest news", "top stories",
    "news", "berita", "home", "beranda", "nasional", "regional", "megapolitan", "internasional",
    "ekonomi", "bisnis", "olahraga", "teknologi", "hiburan", "gaya hidup", "lifestyle",
    "otomotif", "kesehatan", "pendidikan", "politik", "hukum", "metro", "daerah", "dunia",
    "world", "business", "sports", "politics", "opini", "opinion", "kolom", "hot news",
    "riset dan analisis", "kudu insight",
    # share, comment, follow
    "share", "bagikan", "bagikan artikel", "bagikan berita", "copy link", "salin tautan",
    "salin link", "link disalin", "komentar", "lihat komentar", "tulis komentar", "comments",
    "comment", "leave a comment", "ikuti kami di", "follow us", "tribunnews",
    "di whatsapp anda", "dapatkan berita pilihan", "short url", "follow", "syndicate content",
    "halaman selanjutnya", "halaman berikutnya", "next page", "tag popular", "tag populer",
    "no comments", "post a comment", "simak selengkapnya di sini", "simak selengkapnya",
    "stories from and", "jump to: navigation, search", "updated", "close", "donate now",
    "donate", "subscribe", "langganan", "login", "masuk", "daftar", "exclusive", "eksklusif",
    "breaking", "indonesian news", "livestream", "special interview", "video streaming",
    "sister links", "sources", "flag of quebec",
})

_MONTHS = (r"(?:jan(?:uari|uary)?|feb(?:ruari|ruary)?|mar(?:et|ch)?|apr(?:il)?|mei|may"
           r"|jun[ei]?|jul[iy]?|agu(?:stus)?|aug(?:ust)?|sep(?:tember)?|okt(?:ober)?"
           r"|oct(?:ober)?|nov(?:ember)?|des(?:ember)?|dec(?:ember)?)")
_DAYS = (r"(?:senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|monday|tuesday|wednesday"
         r"|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun)")
_CLOCK = r"(?:\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\s*(?:wib|wita|wit|am|pm|gmt|utc)?)"
_DATE = (rf"(?:{_DAYS},?\s*)?(?:\d{{1,2}}\s+{_MONTHS}\.?\s+\d{{4}}|{_MONTHS}\.?\s+\d{{1,2}},?"
         rf"\s+\d{{4}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}})")
_AGO = (r"(?:\d+|a|an|one|se)\s*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?"
        r"|months?|years?|detik|menit|jam|hari|minggu|pekan|bulan|tahun)")

_PATTERNS = [re.compile(p, re.I) for p in (
    # relative times
    rf"^(?:(?:updated|diperbarui|posted|lewat)\s*:?\s*)?{_AGO}(?:,?\s+{_AGO})*\s+"
    r"(?:ago|lalu|yang lalu)$",
    r"^(?:just now|baru saja|kemarin|yesterday)$",
    # time stamps, with a publication, "Updated", "Diperbarui", "|" around them
    rf"^(?:[\w.+ ]{{0,30}}\s*[-–—|,]\s*)?(?:(?:updated|published|posted|diperbarui|diterbitkan"
    rf"|dipublikasikan)\s*:?\s*)?{_DATE}(?:\s*[,|-]?\s*(?:pukul\s*)?{_CLOCK})?$",
    rf"^{_CLOCK}$",
    rf"^(?:\d{{1,2}}\s+)?{_MONTHS}(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?$",  # "July", "06 July"
    rf"^{_DATE}\s+{_CLOCK}\s*(?:[A-Z]{{2,4}}\s+)?by\s+.{{2,40}}$",  # "2/26/2015 7:11 AM PST BY"
    # breadcrumbs
    r"^(?:home|beranda|news|berita)\s*[>»›/|]",
    r"^[^.!?]{1,30}(?:\s+[>»›]\s+[^.!?]{1,30}){2,}$",
    # share and comment prompts
    r"^(?:share|bagikan|bagikan ke|share (?:this|on))\b.{0,60}$",
    r"^(?:\d+\s+)?(?:komentar|comments?)$",
    r"^(?:facebook|twitter|whatsapp|telegram|line|linkedin|email|x|copy link)"
    r"(?:\s*[|,/]?\s*(?:facebook|twitter|whatsapp|telegram|line|linkedin|email|x|copy link))+$",
    # subscription, follow and app prompts, promotion boxes
    r"^baca berita tanpa iklan\b",
    r"^nikmati berita interaktif\b",
    r"^(?:dapatkan|simak|ikuti) (?:update|breaking news|berita pilihan|berita terkini|info)",
    r"^(?:ikuti|follow)\b.{0,80}\b(?:google news|whatsapp|telegram|instagram|twitter|x)\b",
    r"^baca whatsapp\b",
    r"^anda bisa menjadi kolumnis",
    r"^kriteria \(salah satu\)",
    r"^baca kisah inspiratif\b",
    r"^hoegeng awards\b",
    r"^sumber\s*:\s*\S.{0,40}$",
    r"^(?:download|unduh) (?:aplikasi|the app)\b",
    # photo credits and captions
    r"^\(?(?:antara\s+foto|foto|photo|ilustrasi|image|gambar|dok(?:umentasi)?|credit|kredit"
    r"|sumber foto|kolase|grafis|infografis|video|caption|keterangan foto)\s*[:/]",
    r"^zoom-in\b",
    r"^.{0,300}\b(?:photo|foto|image|gambar)\s+(?:from|by|courtesy|dari|oleh)\b[^.]{0,60}\.?$",
    r"^.{0,400}(?:\[[^\[\]]*/[^\[\]]*\]|/\s*antara foto)$",  # "... [suara.com/Agung]"
    r"^[^\w(\[]{1,3}$",  # a stray ")" or "•" on its own line
    r"^\d{1,6}$",  # a count of comments or shares
    r"^donate\b",
    r"^[\w.]+(?: [\w.]+){0,3}/(?:[\w.]+(?: [\w.]+){0,3})$",
    # footers
    r"^artikel ini (?:telah|sudah) (?:tayang|terbit|dipublikasikan)",
    r"^klik untuk baca\b",
    r"^(?:copyright|hak cipta)\b|^©",
    r"^all rights? reserved",
    r"^#\S",  # a hashtag list
    r"^[\w.-]+\.(?:jpe?g|png|gif|webp|svg|mp4)$",  # an image's file name
    r"^from wikinews\b",
    r"^.{0,400}\b(?:antara foto|foto|photo)/[^/]{2,60}$",  # "... 2018. Antara Foto/Ardiansyah"
    r"^(?:kalo|kalau) gak\b.{0,80}\b(?:buka|klik) link\b",
    r"^see all those languages\b|^learn more about lingua\b",
)]

#: "(ant/dwi)", "(fyk/ash)", "(*)": the reporter's and editor's initials closing a story
_INITIALS = re.compile(r"^\(\s*(?:\*|[a-z0-9]{1,6}(?:\s*[/\\-]\s*[a-z0-9]{1,6})*)\s*\)$", re.I)

#: what a page adds to a title: " – Halaman all", " | Kompas.com", " - Halaman 2"
_TITLE_SUFFIX = re.compile(
    r"\s+[-–—|]\s+(?:halaman\s+(?:all|\d+)|page\s+\d+|all pages?)\s*$"
    r"|\s+\(\d{1,5}\)$", re.I)  # "... (0)": the comment count

_PHOTO_SOURCES = re.compile(r"\b(?:tribun|kompas|antara|foto|dok|doc|ist|istimewa|reuters|afp"
                            r"|ap|getty|shutterstock|detik|grid|tempo|suara|kumparan)\b", re.I)


_STAMP_START = re.compile(
    rf"^(?:posted|published|updated|diposting|diterbitkan|diperbarui)\s*:?\s*{_DATE}"
    rf"(?:\s*,?\s*{_CLOCK}(?:\s*[A-Z]{{2,4}}\b)?)?\s+(?=\S)", re.I)


def strip_stamp(paragraph: str) -> str:
    """A paragraph without a time stamp glued in front ("Posted: 15 Dec 2011 09:24 AM PST")."""
    return _STAMP_START.sub("", paragraph, count=1)


def is_photo_credit(line: str) -> bool:
    """True for a photo credit alone on its line ("Antara Foto/Ardiansyah via REUTERS",
    "Image: US Mission Canada.")."""
    line = line.strip()
    return (bool(_CREDIT_ONLY.match(line)) and bool(_PHOTO_SOURCES.search(line.split("/", 1)[0]))
            ) or bool(_LABELLED_CREDIT.match(line))


_LABELLED_CREDIT = re.compile(r"^\(?(?:foto|photo|image|gambar|kredit|credit)\s*:\s*\S.{0,60}$",
                              re.I)


_BULLET = re.compile(r"^[•·▪►»]\s*")
_CREDIT_ONLY = re.compile(r"^[\w.]+(?: [\w.]+){0,3}/(?:[\w.]+(?: [\w.]+){0,3})$")


def is_initials(line: str) -> bool:
    """True for a line of initials such as "(fyk/ash)" or "(*)"."""
    return bool(_INITIALS.match(line.strip()))


def is_furniture(line: str) -> bool:
    """True when ``line`` (a whole line of text) is page furniture, never part of a story."""
    line = _BULLET.sub("", line.strip())
    if not line:
        return False
    bare = line.rstrip(":").strip().casefold()
    if bare in LABELS or is_initials(line):
        return True
    if _ends_with_photo_credit(line):
        return True
    for pattern in _PATTERNS:
        if pattern.search(line):
            if pattern.pattern.startswith(r"^[\w.]+(?: "):  # "Source/Name" photo credit
                return bool(_PHOTO_SOURCES.search(line.split("/", 1)[0]))
            return True
    return False


_CLOSING_BRACKETS = re.compile(r"\(([^()]{2,60})\)$")
_AGENCIES = frozenset({"reuters", "afp", "ap", "ap photo", "antara", "getty images", "epa"})


def _ends_with_photo_credit(line: str) -> bool:
    """A caption: a short text ending in a photo credit in brackets ("(ANTARA FOTO/Raisan Al
    Farisi)", "(FOX via AP/Ray Mickshaw)", "(REUTERS)"); "(fyk/ash)" or "(Bob/P-3)" are a
    reporter's initials instead."""
    match = _CLOSING_BRACKETS.search(line)
    if not match or len(line) > 400 or "://" in line:
        return False
    inner = match.group(1).strip()
    if inner.casefold() in _AGENCIES or inner.casefold().endswith(" foto") or " via " in inner:
        return True
    parts = [part.strip() for part in inner.split("/")]
    return len(parts) > 1 and any(c.isupper() for c in inner) and any(
        len(part) >= 6 or " " in part for part in parts)


def strip_title_furniture(title: str) -> str:
    """A title without what the page added to it ("... – Halaman all", "... | Site Name")."""
    title = _TITLE_SUFFIX.sub("", title).strip()
    return _PIPE_SUFFIX.sub("", title).strip()


# "... | Eleanor Ainge Roy", "... | Kompas.com": the page's author or site after a pipe
_PIPE_SUFFIX = re.compile(r"(?<=\S)\s+\|\s+[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4}\s*$")
