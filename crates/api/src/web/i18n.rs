//! The pages' one message catalogue: every text in Dutch (the default) and in English. A
//! struct, not a lookup by string key, so a missing translation fails to compile.

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    /// The value of `lang` in HTML and in the `kroniek_lang` cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// `nl` or `en`, from a query or cookie value.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim() {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first of `nl`/`en` in an `Accept-Language` header, by quality; Dutch when neither.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary) {
                if best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, lang));
                }
            }
        }
        best.map_or(Lang::Nl, |(_, lang)| lang)
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }

    /// The texts in this language.
    pub fn messages(self) -> &'static Messages {
        match self {
            Lang::Nl => &NL,
            Lang::En => &EN,
        }
    }
}

/// Every text the pages show.
#[derive(Debug)]
pub struct Messages {
    pub other_language: &'static str,
    pub skip_to_content: &'static str,
    pub sign_in: &'static str,
    pub sign_in_intro: &'static str,
    pub token_label: &'static str,
    pub token_hint: &'static str,
    pub token_refused: &'static str,
    pub form_expired: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub overview: &'static str,
    pub ledger: &'static str,
    pub events: &'static str,
    pub head_hash: &'static str,
    pub latest_checkpoint: &'static str,
    pub no_checkpoint: &'static str,
    pub checkpoint_size: &'static str,
    pub bodies: &'static str,
    pub no_bodies: &'static str,
    pub dissolved: &'static str,
    pub forbidden: &'static str,
    pub forbidden_text: &'static str,
    pub not_found: &'static str,
    pub not_found_text: &'static str,
    pub how_to_check: &'static str,
    pub bad_date: &'static str,
    pub composition_on: &'static str,
    pub show: &'static str,
    pub date_label: &'static str,
    pub role: &'static str,
    pub holder: &'static str,
    pub term: &'static str,
    pub vacant: &'static str,
    pub past_term: &'static str,
    pub reappointed: &'static str,
    pub seated: &'static str,
    pub below_minimum: &'static str,
    pub established: &'static str,
    pub current_only: &'static str,
    pub name_hidden: &'static str,
    pub rooster: &'static str,
    pub rooster_hint: &'static str,
    pub no_terms: &'static str,
}

/// Dutch.
pub static NL: Messages = Messages {
    other_language: "English",
    skip_to_content: "Naar de inhoud",
    sign_in: "Inloggen",
    sign_in_intro: "Log in met het toegangstoken dat de beheerder u gaf.",
    token_label: "Toegangstoken",
    token_hint: "Begint met krn_",
    token_refused: "Dit token is onbekend of ingetrokken.",
    form_expired: "Het formulier is verlopen; probeer het opnieuw.",
    sign_out: "Uitloggen",
    signed_in_as: "Ingelogd als",
    overview: "Overzicht",
    ledger: "Het grootboek",
    events: "Gebeurtenissen",
    head_hash: "Laatste hash",
    latest_checkpoint: "Laatste checkpoint",
    no_checkpoint: "Nog geen checkpoint ondertekend.",
    checkpoint_size: "omvang",
    bodies: "Organen van de partij",
    no_bodies: "Nog geen organen ingesteld.",
    dissolved: "opgeheven",
    forbidden: "Geen toegang",
    forbidden_text: "Uw rol mag deze pagina niet zien.",
    not_found: "Niet gevonden",
    not_found_text: "Deze pagina bestaat niet.",
    how_to_check:
        "Controleer zelf: kroniek verify --checkpoint, of de stappen in events/FORMAT.md.",
    bad_date: "Geef een datum als JJJJ-MM-DD.",
    composition_on: "Samenstelling op",
    show: "Toon",
    date_label: "Datum",
    role: "Rol",
    holder: "Bekleder",
    term: "Termijn",
    vacant: "vacant",
    past_term: "termijn verstreken",
    reappointed: "herbenoemd",
    seated: "Zittend",
    below_minimum: "Minder leden dan het minimum",
    established: "Ingesteld",
    current_only: "U ziet de huidige samenstelling.",
    name_hidden: "naam niet getoond",
    rooster: "Rooster van aftreden",
    rooster_hint:
        "Eén balk per zittingstermijn; een streep markeert een herbenoeming, de lijn is vandaag.",
    no_terms: "Nog geen zittingstermijnen.",
};

/// English.
pub static EN: Messages = Messages {
    other_language: "Nederlands",
    skip_to_content: "Skip to content",
    sign_in: "Sign in",
    sign_in_intro: "Sign in with the access token your administrator gave you.",
    token_label: "Access token",
    token_hint: "Starts with krn_",
    token_refused: "This token is unknown or revoked.",
    form_expired: "The form has expired; please try again.",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    overview: "Overview",
    ledger: "The ledger",
    events: "Events",
    head_hash: "Head hash",
    latest_checkpoint: "Latest checkpoint",
    no_checkpoint: "No checkpoint signed yet.",
    checkpoint_size: "size",
    bodies: "The party's bodies",
    no_bodies: "No bodies established yet.",
    dissolved: "dissolved",
    forbidden: "Forbidden",
    forbidden_text: "Your role may not see this page.",
    not_found: "Not found",
    not_found_text: "This page does not exist.",
    how_to_check:
        "Check it yourself: kroniek verify --checkpoint, or the steps in events/FORMAT.md.",
    bad_date: "Give a date as YYYY-MM-DD.",
    composition_on: "Composition on",
    show: "Show",
    date_label: "Date",
    role: "Role",
    holder: "Holder",
    term: "Term",
    vacant: "vacant",
    past_term: "term expired",
    reappointed: "reappointed",
    seated: "Seated",
    below_minimum: "Fewer members than the minimum",
    established: "Established",
    current_only: "You see the current composition.",
    name_hidden: "name not shown",
    rooster: "Term schedule (rooster van aftreden)",
    rooster_hint: "One bar per seat-term; a tick marks a reappointment, the line is today.",
    no_terms: "No seat-terms yet.",
};

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn accept_language_picks_the_preferred_of_dutch_and_english() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(
            Lang::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Lang::Nl
        );
        assert_eq!(
            Lang::from_accept_language("de;q=1,en;q=0.5,nl;q=0.7"),
            Lang::Nl
        );
        assert_eq!(Lang::from_accept_language("fr"), Lang::Nl);
        assert_eq!(Lang::from_accept_language(""), Lang::Nl);
    }
}
