"""The fixed words of the subscriber pages and the confirmation mail, per language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebWords:
    subscribe_title: str
    subscribe_intro: str
    email_label: str
    channel_label: str
    subscribe_button: str
    check_inbox_title: str
    check_inbox: str
    invalid_email: str
    send_failed: str
    confirm_title: str
    confirm_intro: str
    confirm_button: str
    confirmed_title: str
    confirmed: str
    confirm_expired: str
    link_invalid_title: str
    link_invalid: str
    unsubscribe_title: str
    unsubscribe_intro: str
    unsubscribe_button: str
    unsubscribed_title: str
    unsubscribed: str
    resubscribe: str
    confirm_subject: str
    confirm_mail_intro: str
    confirm_mail_button: str
    confirm_mail_ignore: str
    too_many_title: str
    too_many: str
    choose_newsletter: str
    unknown_newsletter: str
    no_newsletter: str
    unavailable_title: str
    unavailable: str


_WORDS = {
    "en": WebWords(
        subscribe_title="Subscribe",
        subscribe_intro="Get {site}'s news by email.",
        email_label="Email address",
        channel_label="Newsletter",
        subscribe_button="Subscribe",
        check_inbox_title="Check your inbox",
        check_inbox="If {email} can be subscribed, a mail with a confirmation link is on its "
                    "way. The subscription starts when you open that link.",
        invalid_email="This is not a valid email address: {problem}",
        send_failed="The confirmation mail could not be sent just now. Please try again in a "
                    "few minutes.",
        confirm_title="Confirm your subscription",
        confirm_intro="Confirm that {email} should receive {channel} from {site}.",
        confirm_button="Yes, subscribe me",
        confirmed_title="You are subscribed",
        confirmed="{email} will receive {channel} from {site}. Every mail has a link to "
                  "unsubscribe.",
        confirm_expired="This confirmation link has expired. Subscribe again to get a new one.",
        link_invalid_title="This link does not work",
        link_invalid="The link is incomplete, was changed, or belongs to an address that is no "
                     "longer on our list.",
        unsubscribe_title="Unsubscribe",
        unsubscribe_intro="Stop sending {channel} from {site} to {email}?",
        unsubscribe_button="Unsubscribe",
        unsubscribed_title="You are unsubscribed",
        unsubscribed="{email} will receive no more mail of {channel} from {site}.",
        resubscribe="Changed your mind? Subscribe again",
        confirm_subject="Confirm your subscription to {site}",
        confirm_mail_intro="Someone, probably you, asked to receive {site}'s news at "
                           "{recipient}. Please confirm with the button below (the link works "
                           "for {days} days).",
        confirm_mail_button="Confirm my subscription",
        confirm_mail_ignore="If it was not you, ignore this mail: without confirmation you "
                            "will receive nothing.",
        too_many_title="Too many requests",
        too_many="Too many subscription requests came from your connection. Please try "
                 "again in a few minutes.",
        choose_newsletter="Choose at least one newsletter.",
        unknown_newsletter="This newsletter does not exist (any more). Choose one below.",
        no_newsletter="{site} has no newsletter to subscribe to at the moment.",
        unavailable_title="Temporarily unavailable",
        unavailable="{site} cannot answer this just now. Please try again in a few minutes.",
    ),
    "id": WebWords(
        subscribe_title="Berlangganan",
        subscribe_intro="Dapatkan berita {site} lewat email.",
        email_label="Alamat email",
        channel_label="Buletin",
        subscribe_button="Berlangganan",
        check_inbox_title="Periksa kotak masuk Anda",
        check_inbox="Jika {email} dapat didaftarkan, email berisi tautan konfirmasi sedang "
                    "dikirim. Langganan dimulai setelah Anda membuka tautan itu.",
        invalid_email="Alamat email ini tidak valid. Periksa penulisannya, misalnya "
                      "nama@contoh.id.",
        send_failed="Email konfirmasi belum dapat dikirim. Silakan coba lagi beberapa menit "
                    "lagi.",
        confirm_title="Konfirmasi langganan Anda",
        confirm_intro="Konfirmasi bahwa {email} akan menerima {channel} dari {site}.",
        confirm_button="Ya, daftarkan saya",
        confirmed_title="Anda sudah berlangganan",
        confirmed="{email} akan menerima {channel} dari {site}. Setiap email memuat tautan "
                  "untuk berhenti berlangganan.",
        confirm_expired="Tautan konfirmasi ini sudah kedaluwarsa. Daftar lagi untuk "
                        "mendapatkan tautan baru.",
        link_invalid_title="Tautan ini tidak berfungsi",
        link_invalid="Tautan ini tidak lengkap, telah diubah, atau milik alamat yang sudah "
                     "tidak ada di daftar kami.",
        unsubscribe_title="Berhenti berlangganan",
        unsubscribe_intro="Berhenti mengirim {channel} dari {site} ke {email}?",
        unsubscribe_button="Berhenti berlangganan",
        unsubscribed_title="Anda sudah berhenti berlangganan",
        unsubscribed="{email} tidak akan menerima email {channel} dari {site} lagi.",
        resubscribe="Berubah pikiran? Berlangganan lagi",
        confirm_subject="Konfirmasi langganan {site}",
        confirm_mail_intro="Seseorang, mungkin Anda, meminta berita {site} dikirim ke "
                           "{recipient}. Silakan konfirmasi dengan tombol di bawah (tautan "
                           "berlaku {days} hari).",
        confirm_mail_button="Konfirmasi langganan saya",
        confirm_mail_ignore="Jika bukan Anda, abaikan email ini: tanpa konfirmasi Anda tidak "
                            "akan menerima apa pun.",
        too_many_title="Terlalu banyak permintaan",
        too_many="Terlalu banyak permintaan berlangganan dari koneksi Anda. Silakan coba lagi "
                 "beberapa menit lagi.",
        choose_newsletter="Pilih paling sedikit satu buletin.",
        unknown_newsletter="Buletin ini tidak ada (lagi). Pilih salah satu di bawah.",
        no_newsletter="Saat ini {site} tidak memiliki buletin untuk dilanggani.",
        unavailable_title="Sementara tidak tersedia",
        unavailable="{site} tidak dapat menjawab permintaan ini saat ini. Silakan coba lagi "
                    "beberapa menit lagi.",
    ),
}


def supported_language(language: str | None) -> str | None:
    """``id`` or ``en`` for a language tag (``id-ID``, ``in``, ``en_GB``...), else None."""
    if not language:
        return None
    code = language.replace("-", "_").split("_")[0].lower().strip()
    code = {"in": "id", "ind": "id", "eng": "en"}.get(code, code)
    return code if code in _WORDS else None


def web_words(language: str | None) -> WebWords:
    return _WORDS[supported_language(language) or "en"]
