/*
 * codes: ISO 3166-1, ISO 4217, ISO 8601, BCP 47 and package ids
 * (see codes.h).
 *
 * The country table is the officially assigned ISO 3166-1 alpha-3 codes
 * with their English short names (249 codes, unchanged since South Sudan,
 * SSD, in 2011; names as of the 2022 change to "T\303\274rkiye"). The
 * currency table is the active ISO 4217 list of 2025 (ZWG added in 2024,
 * XCG in 2025, HRK withdrawn in 2023); codes still legal tender during a
 * transition (ANG, ZWL, SLL, CUC) stay in so that a report of an earlier
 * year is not refused. Both tables are sorted for bsearch().
 */
#include "proto/codes.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char        code[4];
    const char *name;
} s_country_t;

static const s_country_t s_countries[] = {
    {"ABW", "Aruba"},
    {"AFG", "Afghanistan"},
    {"AGO", "Angola"},
    {"AIA", "Anguilla"},
    {"ALA", "\303\205land Islands"},
    {"ALB", "Albania"},
    {"AND", "Andorra"},
    {"ARE", "United Arab Emirates"},
    {"ARG", "Argentina"},
    {"ARM", "Armenia"},
    {"ASM", "American Samoa"},
    {"ATA", "Antarctica"},
    {"ATF", "French Southern Territories"},
    {"ATG", "Antigua and Barbuda"},
    {"AUS", "Australia"},
    {"AUT", "Austria"},
    {"AZE", "Azerbaijan"},
    {"BDI", "Burundi"},
    {"BEL", "Belgium"},
    {"BEN", "Benin"},
    {"BES", "Bonaire, Sint Eustatius and Saba"},
    {"BFA", "Burkina Faso"},
    {"BGD", "Bangladesh"},
    {"BGR", "Bulgaria"},
    {"BHR", "Bahrain"},
    {"BHS", "Bahamas"},
    {"BIH", "Bosnia and Herzegovina"},
    {"BLM", "Saint Barth\303\251lemy"},
    {"BLR", "Belarus"},
    {"BLZ", "Belize"},
    {"BMU", "Bermuda"},
    {"BOL", "Bolivia, Plurinational State of"},
    {"BRA", "Brazil"},
    {"BRB", "Barbados"},
    {"BRN", "Brunei Darussalam"},
    {"BTN", "Bhutan"},
    {"BVT", "Bouvet Island"},
    {"BWA", "Botswana"},
    {"CAF", "Central African Republic"},
    {"CAN", "Canada"},
    {"CCK", "Cocos (Keeling) Islands"},
    {"CHE", "Switzerland"},
    {"CHL", "Chile"},
    {"CHN", "China"},
    {"CIV", "C\303\264te d'Ivoire"},
    {"CMR", "Cameroon"},
    {"COD", "Congo, The Democratic Republic of the"},
    {"COG", "Congo"},
    {"COK", "Cook Islands"},
    {"COL", "Colombia"},
    {"COM", "Comoros"},
    {"CPV", "Cabo Verde"},
    {"CRI", "Costa Rica"},
    {"CUB", "Cuba"},
    {"CUW", "Cura\303\247ao"},
    {"CXR", "Christmas Island"},
    {"CYM", "Cayman Islands"},
    {"CYP", "Cyprus"},
    {"CZE", "Czechia"},
    {"DEU", "Germany"},
    {"DJI", "Djibouti"},
    {"DMA", "Dominica"},
    {"DNK", "Denmark"},
    {"DOM", "Dominican Republic"},
    {"DZA", "Algeria"},
    {"ECU", "Ecuador"},
    {"EGY", "Egypt"},
    {"ERI", "Eritrea"},
    {"ESH", "Western Sahara"},
    {"ESP", "Spain"},
    {"EST", "Estonia"},
    {"ETH", "Ethiopia"},
    {"FIN", "Finland"},
    {"FJI", "Fiji"},
    {"FLK", "Falkland Islands (Malvinas)"},
    {"FRA", "France"},
    {"FRO", "Faroe Islands"},
    {"FSM", "Micronesia, Federated States of"},
    {"GAB", "Gabon"},
    {"GBR", "United Kingdom"},
    {"GEO", "Georgia"},
    {"GGY", "Guernsey"},
    {"GHA", "Ghana"},
    {"GIB", "Gibraltar"},
    {"GIN", "Guinea"},
    {"GLP", "Guadeloupe"},
    {"GMB", "Gambia"},
    {"GNB", "Guinea-Bissau"},
    {"GNQ", "Equatorial Guinea"},
    {"GRC", "Greece"},
    {"GRD", "Grenada"},
    {"GRL", "Greenland"},
    {"GTM", "Guatemala"},
    {"GUF", "French Guiana"},
    {"GUM", "Guam"},
    {"GUY", "Guyana"},
    {"HKG", "Hong Kong"},
    {"HMD", "Heard Island and McDonald Islands"},
    {"HND", "Honduras"},
    {"HRV", "Croatia"},
    {"HTI", "Haiti"},
    {"HUN", "Hungary"},
    {"IDN", "Indonesia"},
    {"IMN", "Isle of Man"},
    {"IND", "India"},
    {"IOT", "British Indian Ocean Territory"},
    {"IRL", "Ireland"},
    {"IRN", "Iran, Islamic Republic of"},
    {"IRQ", "Iraq"},
    {"ISL", "Iceland"},
    {"ISR", "Israel"},
    {"ITA", "Italy"},
    {"JAM", "Jamaica"},
    {"JEY", "Jersey"},
    {"JOR", "Jordan"},
    {"JPN", "Japan"},
    {"KAZ", "Kazakhstan"},
    {"KEN", "Kenya"},
    {"KGZ", "Kyrgyzstan"},
    {"KHM", "Cambodia"},
    {"KIR", "Kiribati"},
    {"KNA", "Saint Kitts and Nevis"},
    {"KOR", "Korea, Republic of"},
    {"KWT", "Kuwait"},
    {"LAO", "Lao People's Democratic Republic"},
    {"LBN", "Lebanon"},
    {"LBR", "Liberia"},
    {"LBY", "Libya"},
    {"LCA", "Saint Lucia"},
    {"LIE", "Liechtenstein"},
    {"LKA", "Sri Lanka"},
    {"LSO", "Lesotho"},
    {"LTU", "Lithuania"},
    {"LUX", "Luxembourg"},
    {"LVA", "Latvia"},
    {"MAC", "Macao"},
    {"MAF", "Saint Martin (French part)"},
    {"MAR", "Morocco"},
    {"MCO", "Monaco"},
    {"MDA", "Moldova, Republic of"},
    {"MDG", "Madagascar"},
    {"MDV", "Maldives"},
    {"MEX", "Mexico"},
    {"MHL", "Marshall Islands"},
    {"MKD", "North Macedonia"},
    {"MLI", "Mali"},
    {"MLT", "Malta"},
    {"MMR", "Myanmar"},
    {"MNE", "Montenegro"},
    {"MNG", "Mongolia"},
    {"MNP", "Northern Mariana Islands"},
    {"MOZ", "Mozambique"},
    {"MRT", "Mauritania"},
    {"MSR", "Montserrat"},
    {"MTQ", "Martinique"},
    {"MUS", "Mauritius"},
    {"MWI", "Malawi"},
    {"MYS", "Malaysia"},
    {"MYT", "Mayotte"},
    {"NAM", "Namibia"},
    {"NCL", "New Caledonia"},
    {"NER", "Niger"},
    {"NFK", "Norfolk Island"},
    {"NGA", "Nigeria"},
    {"NIC", "Nicaragua"},
    {"NIU", "Niue"},
    {"NLD", "Netherlands"},
    {"NOR", "Norway"},
    {"NPL", "Nepal"},
    {"NRU", "Nauru"},
    {"NZL", "New Zealand"},
    {"OMN", "Oman"},
    {"PAK", "Pakistan"},
    {"PAN", "Panama"},
    {"PCN", "Pitcairn"},
    {"PER", "Peru"},
    {"PHL", "Philippines"},
    {"PLW", "Palau"},
    {"PNG", "Papua New Guinea"},
    {"POL", "Poland"},
    {"PRI", "Puerto Rico"},
    {"PRK", "Korea, Democratic People's Republic of"},
    {"PRT", "Portugal"},
    {"PRY", "Paraguay"},
    {"PSE", "Palestine, State of"},
    {"PYF", "French Polynesia"},
    {"QAT", "Qatar"},
    {"REU", "R\303\251union"},
    {"ROU", "Romania"},
    {"RUS", "Russian Federation"},
    {"RWA", "Rwanda"},
    {"SAU", "Saudi Arabia"},
    {"SDN", "Sudan"},
    {"SEN", "Senegal"},
    {"SGP", "Singapore"},
    {"SGS", "South Georgia and the South Sandwich Islands"},
    {"SHN", "Saint Helena, Ascension and Tristan da Cunha"},
    {"SJM", "Svalbard and Jan Mayen"},
    {"SLB", "Solomon Islands"},
    {"SLE", "Sierra Leone"},
    {"SLV", "El Salvador"},
    {"SMR", "San Marino"},
    {"SOM", "Somalia"},
    {"SPM", "Saint Pierre and Miquelon"},
    {"SRB", "Serbia"},
    {"SSD", "South Sudan"},
    {"STP", "Sao Tome and Principe"},
    {"SUR", "Suriname"},
    {"SVK", "Slovakia"},
    {"SVN", "Slovenia"},
    {"SWE", "Sweden"},
    {"SWZ", "Eswatini"},
    {"SXM", "Sint Maarten (Dutch part)"},
    {"SYC", "Seychelles"},
    {"SYR", "Syrian Arab Republic"},
    {"TCA", "Turks and Caicos Islands"},
    {"TCD", "Chad"},
    {"TGO", "Togo"},
    {"THA", "Thailand"},
    {"TJK", "Tajikistan"},
    {"TKL", "Tokelau"},
    {"TKM", "Turkmenistan"},
    {"TLS", "Timor-Leste"},
    {"TON", "Tonga"},
    {"TTO", "Trinidad and Tobago"},
    {"TUN", "Tunisia"},
    {"TUR", "T\303\274rkiye"},
    {"TUV", "Tuvalu"},
    {"TWN", "Taiwan, Province of China"},
    {"TZA", "Tanzania, United Republic of"},
    {"UGA", "Uganda"},
    {"UKR", "Ukraine"},
    {"UMI", "United States Minor Outlying Islands"},
    {"URY", "Uruguay"},
    {"USA", "United States"},
    {"UZB", "Uzbekistan"},
    {"VAT", "Holy See (Vatican City State)"},
    {"VCT", "Saint Vincent and the Grenadines"},
    {"VEN", "Venezuela, Bolivarian Republic of"},
    {"VGB", "Virgin Islands, British"},
    {"VIR", "Virgin Islands, U.S."},
    {"VNM", "Viet Nam"},
    {"VUT", "Vanuatu"},
    {"WLF", "Wallis and Futuna"},
    {"WSM", "Samoa"},
    {"YEM", "Yemen"},
    {"ZAF", "South Africa"},
    {"ZMB", "Zambia"},
    {"ZWE", "Zimbabwe"},
};

#define S_N_COUNTRIES (sizeof s_countries / sizeof s_countries[0])

static const char s_currencies[][4] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM",
    "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD",
    "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP",
    "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD",
    "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB",
    "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF",
    "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC",
    "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER",
    "ZAR", "ZMW", "ZWG", "ZWL",
};

#define S_N_CURRENCIES (sizeof s_currencies / sizeof s_currencies[0])

/* A three-upper-case-letter code, the shape of both tables' keys. */
static int
s_alpha3(const char *s)
{
    int i;

    if (s == NULL)
        return 0;
    for (i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return s[3] == '\0';
}

static int
s_cmp_country(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const s_country_t *)elem)->code);
}

static int
s_cmp_currency(const void *key, const void *elem)
{
    return strcmp((const char *)key, (const char *)elem);
}

const char *
codes_country_name(const char *alpha3)
{
    const s_country_t *c;

    if (!s_alpha3(alpha3))
        return NULL;
    c = bsearch(alpha3, s_countries, S_N_COUNTRIES, sizeof s_countries[0],
        s_cmp_country);
    return c != NULL ? c->name : NULL;
}

int
codes_country_known(const char *alpha3)
{
    return codes_country_name(alpha3) != NULL;
}

size_t
codes_country_count(void)
{
    return S_N_COUNTRIES;
}

const char *
codes_country_code_at(size_t i)
{
    return i < S_N_COUNTRIES ? s_countries[i].code : NULL;
}

const char *
codes_country_name_at(size_t i)
{
    return i < S_N_COUNTRIES ? s_countries[i].name : NULL;
}

int
codes_currency_known(const char *code)
{
    if (!s_alpha3(code))
        return 0;
    return bsearch(code, s_currencies, S_N_CURRENCIES,
               sizeof s_currencies[0], s_cmp_currency)
        != NULL;
}

/* ----------------------------------------------------------- dates --- */

static int
s_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
s_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
        30, 31};

    return m == 2 && s_is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a valid proleptic Gregorian date (H. Hinnant's
 * days_from_civil; exact for every year, no table, no time zone). */
static int32_t
s_days_from_civil(int y, int m, int d)
{
    int era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static void
s_civil_from_days(int32_t z, int *y_out, int *m_out, int *d_out)
{
    int  era, doe, yoe, y, doy, mp, d, m;
    long zz = (long)z + 719468;

    era = (int)((zz >= 0 ? zz : zz - 146096) / 146097);
    doe = (int)(zz - (long)era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    *y_out = y + (m <= 2);
    *m_out = m;
    *d_out = d;
}

/* n decimal digits at s, no sign, no spaces; -1 if any is not a digit. */
static int
s_digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* The "YYYY-MM-DD" at the start of s (which need not end there). The
 * caller has checked that s holds at least ten characters before any NUL
 * (a NUL among them fails the digit or separator test). */
static int
s_date_prefix(const char *s, int32_t *days)
{
    int y, m, d;

    if (s[4] != '-' || s[7] != '-')
        return -1;
    y = s_digits(s, 4);
    m = s_digits(s + 5, 2);
    d = s_digits(s + 8, 2);
    if (y < CODES_MIN_YEAR || y > CODES_MAX_YEAR || m < 1 || m > 12 || d < 1
        || d > s_days_in_month(y, m))
        return -1;
    *days = s_days_from_civil(y, m, d);
    return 0;
}

int
codes_parse_date(const char *s, int32_t *days_since_epoch)
{
    int32_t days;

    if (s == NULL || strnlen(s, CODES_DATE_LEN + 1) != CODES_DATE_LEN)
        return -1;
    if (s_date_prefix(s, &days) != 0)
        return -1;
    *days_since_epoch = days;
    return 0;
}

int
codes_parse_datetime(const char *s, int64_t *unix_seconds)
{
    /* "YYYY-MM-DDTHH:MM:SS" + ".999999999" + "+HH:MM" is 35 bytes. */
    size_t  len, i;
    int32_t days;
    int     hh, mi, ss, oh, om, sign;
    int64_t t;

    if (s == NULL)
        return -1;
    len = strnlen(s, 40);
    if (len < 20 || len > 35)
        return -1;
    if (s_date_prefix(s, &days) != 0 || s[10] != 'T' || s[13] != ':'
        || s[16] != ':')
        return -1;
    hh = s_digits(s + 11, 2);
    mi = s_digits(s + 14, 2);
    ss = s_digits(s + 17, 2);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59)
        return -1;
    i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return -1;
    }
    if (s[i] == 'Z') {
        sign = 0;
        oh = om = 0;
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '+' ? 1 : -1;
        if (len - i != 6 || s[i + 3] != ':')
            return -1;
        oh = s_digits(s + i + 1, 2);
        om = s_digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    t = (int64_t)days * 86400 + hh * 3600 + mi * 60 + ss;
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *unix_seconds = t;
    return 0;
}

int
codes_format_date(int32_t days, char out[CODES_DATE_LEN + 1])
{
    int y, m, d;

    s_civil_from_days(days, &y, &m, &d);
    out[0] = '\0';
    if (y < CODES_MIN_YEAR || y > CODES_MAX_YEAR)
        return -1;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return 0;
}

/* ------------------------------------------------------- languages --- */

static int
s_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
s_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n characters at s all pass test. */
static int
s_all(const char *s, size_t n, int (*test)(char))
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!test(s[i]))
            return 0;
    return 1;
}

static int
s_alnum(char c)
{
    return s_alpha(c) || s_digit(c);
}

int
codes_language_valid(const char *tag)
{
    /* Subtag kinds in the order RFC 5646 allows them; a tag walks forward
     * through them and never back. */
    enum { LANG, SCRIPT, REGION, VARIANT, EXTENSION, PRIVATE };
    const char *p, *end;
    size_t      len, n, extlangs = 0;
    int         state = LANG, in_ext = 0, ext_subtags = 0, priv_subtags = 0;

    if (tag == NULL)
        return 0;
    len = strnlen(tag, CODES_LANGUAGE_MAX + 1);
    if (len == 0 || len > CODES_LANGUAGE_MAX)
        return 0;
    for (p = tag; p <= tag + len; p = end + 1) {
        end = p;
        while (end < tag + len && *end != '-')
            end++;
        n = (size_t)(end - p);
        if (n == 0 || n > 8 || !s_all(p, n, s_alnum))
            return 0; /* empty subtag ("es-", "es--AR") or bad characters */
        if (p == tag) {
            if (n < 2 || n > 3 || !s_all(p, n, s_alpha))
                return 0;
            continue;
        }
        if (state == PRIVATE) {
            priv_subtags++;
            continue;
        }
        if (n == 1) {
            /* a singleton starts an extension or the private-use part */
            if (in_ext && ext_subtags == 0)
                return 0;
            if (*p == 'x' || *p == 'X') {
                state = PRIVATE;
            } else {
                state = EXTENSION;
                in_ext = 1;
                ext_subtags = 0;
            }
            continue;
        }
        if (state == EXTENSION) {
            if (n < 2)
                return 0;
            ext_subtags++;
            continue;
        }
        if (state == LANG && n == 3 && s_all(p, 3, s_alpha) && extlangs < 3) {
            extlangs++;
            continue;
        }
        if (state == LANG && n == 4 && s_all(p, 4, s_alpha)) {
            state = SCRIPT;
            continue;
        }
        if (state <= SCRIPT
            && ((n == 2 && s_all(p, 2, s_alpha))
                || (n == 3 && s_all(p, 3, s_digit)))) {
            state = REGION;
            continue;
        }
        if (state <= VARIANT
            && (n >= 5 || (n == 4 && s_digit(p[0])))) {
            state = VARIANT;
            continue;
        }
        return 0;
    }
    if (state == EXTENSION && ext_subtags == 0)
        return 0;
    if (state == PRIVATE && priv_subtags == 0)
        return 0;
    return 1;
}

/* ----------------------------------------------------- package ids --- */

int
codes_package_id_valid(const char *s)
{
    size_t i;

    if (s == NULL || strnlen(s, CODES_PACKAGE_ID_LEN + 1)
        != CODES_PACKAGE_ID_LEN)
        return 0;
    for (i = 0; i < CODES_PACKAGE_ID_LEN; i++) {
        char c = s[i];
        if (!s_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F'))
            return 0;
    }
    return 1;
}
