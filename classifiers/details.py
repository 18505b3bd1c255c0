"""What staff need from a request besides its labels: new values, identifiers, on-behalf flag.

Why rule-based: the values are copied into the register (rectification, domain.md §2 Art. 16)
or used to find the person (customer number, order number, Y-tunnus, phone), so they must be
exactly what the person wrote; patterns with per-language cue words do that predictably, and
staff confirm every value before anything is changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from classifiers.features import fold


@dataclass(frozen=True)
class Details:
    """``new_values``: proposed register values (keys address/phone/email/name), only for a
    rectification.  ``identifiers``: numbers the person gave to find them (customer_number,
    order_number, invoice_number, y_tunnus, phone, email).  ``on_behalf``: written for someone
    else (parent, lawyer, estate) — identity and authority must be checked by staff."""

    new_values: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    on_behalf: bool = False


_NUMBER = r"[:#.]?\s*(?:on|är|is|ist|est|:)?\s*#?([A-Za-z]{0,4}[-\s]?\d[\w/-]{2,24})"
_CUES: dict[str, str] = {
    "customer_number": (
        r"asiakas(?:numero|nro|tunnus|nr)\w*|asiakas\s+nro|asiakkuusnumero\w*|kundnummer\w*"
        r"|kundnr|kund-?id|customer\s+(?:number|no\.?|id|#|account)|client\s+(?:number|no\.?|id)"
        r"|account\s+(?:number|no\.?)|kunden(?:nummer|-nr\.?|nr\.?)|numéro\s+(?:de\s+)?client"
        r"|n°\s*client|klantnummer|klantnr|número\s+de\s+cliente|numero\s+(?:di\s+)?cliente"
        r"|codice\s+cliente|número\s+de\s+cliente|kundenummer\w*|numer\s+klienta|kliendinumber"
        r"|jäsennumero\w*|medlemsnummer|membership\s+number|loyalty\s+number"
    ),
    "order_number": (
        r"tilaus(?:numero|nro|tunnus)\w*|tilauksen\s+numero|ordernummer\w*|ordernr|order-?id"
        r"|order\s+(?:number|no\.?|#|id|nr)|bestell(?:nummer|-nr\.?|nr\.?)|numéro\s+de\s+commande"
        r"|commande\s+n°|bestelnummer|ordernummer|número\s+de\s+pedido|numero\s+(?:d['’]\s*)?ordine"
        r"|número\s+d[ao]\s+(?:encomenda|pedido)|ordrenummer|ordrenr|numer\s+zamówienia"
        r"|tellimuse\s+number|tellimusnumber"
    ),
    "invoice_number": (
        r"lasku(?:numero|nro)\w*|laskun\s+numero|fakturanummer\w*|fakturanr|invoice\s+(?:number|no\.?|#)"
        r"|rechnungs(?:nummer|-nr\.?|nr\.?)|numéro\s+de\s+facture|factuurnummer"
        r"|número\s+de\s+factura|numero\s+(?:di\s+)?fattura|número\s+da\s+fatura|numer\s+faktury"
        r"|arve\s+number"
    ),
}
_CUE_RES = {
    key: re.compile(rf"(?:{cue})\s*{_NUMBER}", re.IGNORECASE) for key, cue in _CUES.items()
}
#: Lower-case substrings each cue needs; the (costly, case-insensitive) cue pattern only runs
#: when one is present.
_CUE_WORDS: dict[str, tuple[str, ...]] = {
    "customer_number": (
        "asiakas", "asiakkuus", "kund", "customer", "client", "account", "numéro", "n°",
        "klant", "cliente", "kliendi", "jäsen", "medlem", "member", "loyalty", "numer",
        "número", "numero", "codice",
    ),
    "order_number": (
        "tilaus", "tilauksen", "order", "bestell", "commande", "bestel", "pedido", "ordine",
        "encomenda", "ordre", "zamówien", "tellimus", "numéro", "número", "numero", "numer",
    ),
    "invoice_number": (
        "lasku", "faktur", "invoice", "rechnung", "facture", "factuur", "factura", "fattura",
        "fatura", "arve", "numéro", "número", "numero", "numer",
    ),
}  # fmt: skip
_NAME_WORDS = (
    "nimi", "nimeni", "name", "namn", "heter", "heiße", "nom ", "naam", "apellido", "cognome",
    "apelido", "navn", "nazwisko",
)  # fmt: skip
_Y_TUNNUS_RE = re.compile(r"(?<![\d-])(\d{7}-\d)(?![\d-])")
_EMAIL_RE = re.compile(r"(?<![\w.+-])([\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})")
_PHONE_RE = re.compile(
    r"(?<![\w+/-])((?:\+|00)\d{1,3}[ -]?(?:\(0\)[ -]?)?\d{1,4}(?:[ -]?\d{2,4}){1,4}"
    r"|\(?0\d{1,3}\)?[ -]?\d{3,4}(?:[ -]?\d{2,4}){0,3})(?![\w-])"
)
_NEW_CUE = (
    r"(?:uusi|uuden|uutena|uudeksi|nykyinen|nyt|muuttunut|ny|nya|nytt|new|now|updated|current"
    r"|neu|neue|neuer|neues|jetzt|nouvelle|nouveau|nieuwe|nieuw|nuevo|nueva|nuovo|nuova|novo"
    r"|nova|nowy|nowa|uus|ändra till|change (?:it )?to|changed to|muotoon|till)"
)
_CAP = r"[A-ZÄÖÅÜÉ][\wäöåüéßøæ.'-]*"
_LINK = r"(?:de|la|le|du|des|van|der|den|von|di|del|da|do|dos|am|an|im|auf|zum|zur|i|på)"
_ZIP_CITY = (
    r"(?P<zip>(?:[A-Z]{1,2}-)?\d{3}\s?\d{2}|\d{4}|\d{2}-\d{3})\s+(?P<city>[A-ZÄÖÅ][\wäöåü-]+)"
)
_ADDRESS_RE = re.compile(
    rf"(?:{_CAP}(?:\s+(?:{_CAP}|{_LINK})){{0,3}}\s+\d{{1,4}}\s?[a-zA-Z]?(?:\s?[-–]\s?\d{{1,4}})?"
    r"(?:\s+[A-Za-z]{1,2}\s?\d{1,4})?(?:\s+(?:as|lgh|bst|apt|lh)\.?\s?\d{1,4})?"
    r"|\d{1,4}\s?[a-zA-Z]?,?\s+(?:rue|avenue|boulevard|bd|chemin|place|allée|impasse|quai"
    r"|road|street|lane|drive)\b[^,\n\d]{0,40})"
    rf"(?:,\s*|\s+){_ZIP_CITY}"
)
_NAME_RE = re.compile(
    r"(?:(?:uusi\s+)?(?:suku|etu)?nimeni\s+on\s+(?:nyt\s+)?(?:muuttunut\s+)?(?:muotoon\s+)?"
    r"|nimi\s+muuttui\s+(?:muotoon\s+)?|nimeni\s+muuttui\s+(?:muotoon\s+)?"
    r"|(?:my\s+)?new\s+(?:sur|last\s+|family\s+)?name\s+is\s+|changed\s+my\s+(?:sur)?name\s+to\s+"
    r"|(?:sur)?name\s+(?:has\s+)?changed\s+to\s+|mitt\s+nya\s+(?:efter)?namn\s+är\s+"
    r"|heter\s+nu\s+|heter\s+numera\s+|bytt\s+(?:efter)?namn\s+till\s+"
    r"|mein\s+neuer\s+(?:nach)?name\s+(?:ist|lautet)\s+|heiße\s+jetzt\s+"
    r"|mon\s+nouveau\s+nom\s+(?:est|:)\s+|mijn\s+nieuwe\s+(?:achter)?naam\s+is\s+"
    r"|mi\s+nuevo\s+apellido\s+es\s+|il\s+mio\s+nuovo\s+cognome\s+è\s+|o\s+meu\s+novo\s+apelido\s+é\s+"
    r"|mit\s+nye\s+(?:efter)?navn\s+er\s+|mitt\s+nye\s+(?:etter)?navn\s+er\s+|moje\s+nowe\s+nazwisko\s+to\s+)"
    r"(?P<name>[A-ZÄÖÅÜ][\w'-]+(?:[ -][A-ZÄÖÅÜ][\w'-]+){0,3})",
    re.IGNORECASE,
)
_EMAIL_CUE_RE = re.compile(
    r"(?:sähköposti|s-posti|e-?post|e-?mail|email|mail|adresse|adres|correo|posta|endereço|poczt)",
    re.IGNORECASE,
)
_PHONE_CUE_RE = re.compile(
    r"(?:puhelin|puh\.?|numero|gsm|telefon|tel\.?|mobil|phone|handy|téléphone|portable|telefoon"
    r"|teléfono|telefono|telemóvel|telefone|nummer|numer|mobiil)",
    re.IGNORECASE,
)
_ON_BEHALF_RE = re.compile(
    r"\b(?:"
    # Finnish
    r"(?:\w+n|heidan|hanen|puolisoni|asiakkaani|paamieheni|lapseni|poikani|tyttareni|aitini"
    r"|isani|mieheni|vaimoni|vanhempieni|isoaitini|isoisani|veljeni|siskoni|sisareni) puolesta"
    r"|valtakirja\w*|paamieh\w*|edunvalvoja\w*|huoltaja\w*|kuolinpes\w*|vainaja\w*"
    r"|edesmenn\w*|kuolleen|alaikaise\w*|(?:lapseni|poikani|tyttareni|aitini|isani|mieheni"
    r"|vaimoni|puolisoni|asiakkaani) (?:tiet\w*|henkilotiet\w*|nime\w*|tili\w*)"
    # Swedish
    r"|(?:a|pa) (?:min|mina|hans|hennes|deras|var) (?:\w+ )?vagnar|fullmakt\w*|dodsbo\w*"
    r"|avlidn\w*|framlidn\w*|forordnad|god man|vardnadshavare|formyndare|min huvudman"
    r"|min klient|mina klienter|(?:min|var) (?:son|dotter|sons|dotters|mamma|mammas|pappa"
    r"|pappas|mor|mors|far|fars|man|mans|fru|frus|make|makas|maka|barn|barns) (?:uppgifter"
    r"|personuppgifter|konto|namn)"
    # English
    r"|on behalf of|on (?:his|her|their|my \w+'s) behalf|my client|power of attorney"
    r"|legal guardian|as (?:his|her|their) guardian|the estate of|executor|late (?:mother"
    r"|father|husband|wife)|deceased|i represent|acting for"
    r"|my (?:son|daughter|child|children|mother|father|mum|mom|dad|husband|wife|partner"
    r"|spouse)'?s? (?:data|personal data|account|details|information)"
    # German, French, Dutch, Spanish, Italian, Portuguese
    r"|im auftrag|im namen|meine[rs]? (?:mandant\w*)|vollmacht|nachlass|verstorben\w*"
    r"|meine[rs]? (?:sohn\w*|tochter|kind\w*|mutter|vater\w*|mann\w*|frau)"
    r"|au nom de|pour le compte de|mon client|ma cliente|procuration|succession|decede\w*"
    r"|mon fils|ma fille|ma mere|mon pere|mon mari|ma femme|mon epouse"
    r"|namens|mijn client\w*|volmacht|mijn (?:zoon|dochter|moeder|vader|man|vrouw)|overleden"
    r"|en nombre de|mi cliente|poder notarial|mi (?:hijo|hija|madre|padre|marido|esposa)"
    r"|fallecid\w*|per conto di|a nome di|il mio cliente|mio figlio|mia figlia|mia madre"
    r"|mio padre|defunt\w*|decedut\w*|em nome d[aeo]|o meu cliente|procuracao"
    r"|(?:o )?meu (?:filho|pai|marido)|(?:a )?minha (?:filha|mae|esposa)|falecid\w*"
    # Danish, Norwegian, Estonian, Polish
    r"|pa vegne af|pa vegne av|fuldmagt|afdode|avdode|min (?:son|sonn|datter|mor|far|mand"
    r"|kone|klient)s? (?:oplysninger|opplysninger|data|konto)"
    r"|nimel|volikir\w*|esindaja\w*|minu (?:poja|tutre|ema|isa|kliendi) (?:andme\w*)"
    r"|w imieniu|pelnomocn\w*|mojego (?:klienta|syna|ojca|meza)|mojej (?:corki|matki|zony)"
    r"|zmarl\w*)\b"
)


def extract_details(text: str, with_new_values: bool) -> Details:
    """Details from the new text of a message (with signature: a phone there identifies)."""
    identifiers: dict[str, list[str]] = {}
    taken: set[str] = set()
    lowered = text.lower()
    for key, pattern in _CUE_RES.items():
        for match in _matches_at(pattern, text, lowered, _CUE_WORDS[key]):
            value = match.group(1).strip(" .,-/")
            if value and value not in taken:
                identifiers.setdefault(key, []).append(value)
                taken.add(value)
    for value in _Y_TUNNUS_RE.findall(text):
        if value not in identifiers.get("y_tunnus", []):
            identifiers.setdefault("y_tunnus", []).append(value)
            taken.add(value)
    phones = _phones(text, taken)
    if phones:
        identifiers["phone"] = phones
    emails = (
        list(dict.fromkeys(m.lower() for m in _EMAIL_RE.findall(text))) if "@" in text else []
    )
    if emails:
        identifiers["email"] = emails
    new_values = _new_values(text, phones, emails) if with_new_values else {}
    return Details(new_values, identifiers, bool(_ON_BEHALF_RE.search(fold(text))))


def _matches_at(
    pattern: re.Pattern[str], text: str, lowered: str, keywords: tuple[str, ...]
) -> list[re.Match[str]]:
    """Matches of a cue pattern that start where one of its keywords occurs: anchored tries
    instead of a case-insensitive scan of every position (which cost ~0.5 ms per mail)."""
    found: dict[int, re.Match[str]] = {}
    for keyword in keywords:
        start = lowered.find(keyword)
        while start >= 0:
            if start not in found and (start == 0 or not lowered[start - 1].isalnum()):
                match = pattern.match(text, start)
                if match:
                    found[start] = match
            start = lowered.find(keyword, start + 1)
    return [found[k] for k in sorted(found)]


def _phones(text: str, taken: set[str]) -> list[str]:
    phones: list[str] = []
    for match in _PHONE_RE.finditer(text):
        value = match.group(1).strip()
        digits = sum(ch.isdigit() for ch in value)
        if not 7 <= digits <= 15 or any(value in t or t in value for t in taken):
            continue
        if value not in phones:
            phones.append(value)
    return phones


def _new_values(text: str, phones: list[str], emails: list[str]) -> dict[str, str]:
    """Proposed register values; where old and new are both given, the one after a 'new' cue."""
    values: dict[str, str] = {}
    addresses = [m for m in _ADDRESS_RE.finditer(text)]
    if addresses:
        chosen = _after_new_cue(text, [(m.start(), m.group(0)) for m in addresses])
        values["address"] = " ".join(chosen.split())
    if phones and _PHONE_CUE_RE.search(text):
        values["phone"] = _after_new_cue(text, [(text.find(p), p) for p in phones])
    if emails and _EMAIL_CUE_RE.search(text):
        values["email"] = _after_new_cue(text, [(text.lower().find(e), e) for e in emails])
    lowered = text.lower()
    name = _NAME_RE.search(text) if any(w in lowered for w in _NAME_WORDS) else None
    if name:
        values["name"] = name.group("name").strip()
    return values


def _after_new_cue(text: str, candidates: list[tuple[int, str]]) -> str:
    """The candidate preceded most closely by a 'new' cue word, else the last one."""
    folded = text.lower()
    for start, value in candidates:
        window = folded[max(0, start - 60) : start]
        if re.search(rf"\b{_NEW_CUE}\b[^.\n]{{0,50}}$", window) or re.search(
            rf"\b{_NEW_CUE}\b\s*[:\-–]?\s*$", window
        ):
            return value
    return candidates[-1][1]
