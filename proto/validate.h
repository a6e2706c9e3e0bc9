/*
 * validate: the domain rules a package must meet before it is sealed.
 *
 * Rules: codes are known (ISO 3166-1 alpha-3 states, ISO 4217 currencies,
 * enum values set), dates are real ISO 8601 dates and ordered, quantities
 * and money are non-negative, MILEX matrix and simplified rows and columns
 * add up to their totals, nil reports carry no lines, the body matches the
 * form, and follow-up messages (amendment, cancellation, observer response)
 * refer to an earlier package. Each problem names the JSON path and the
 * rule, for example
 *   $.milex.matrix.personnel.land: column total 1200 differs from sum of
 *   cells 1150 (conscripts + active_military + reserves + civilian +
 *   military_pensions)
 *
 * The rules in detail (codes and formats are those of proto/codes.h):
 *
 * Every package: state is an ISO 3166-1 alpha-3 code; year is in
 * VALIDATE_MIN_YEAR..VALIDATE_MAX_YEAR; language is a BCP 47 tag
 * (required); prepared_at is an ISO 8601 date-time (required); exactly one
 * body is set; references are package ids (32 hex digits), at most
 * VALIDATE_MAX_REFERENCES, no two alike (compared ignoring case); remarks
 * at most VALIDATE_MAX_LONG_TEXT bytes. Every string is valid UTF-8.
 *
 * Nil reports: nil_report means "nothing to report", so the body carries
 * no lines, figures or content: MILEX uses form MILEX_NIL (and MILEX_NIL
 * requires nil_report); arms register and acquisition report have no
 * lines; an acquisition notice is empty; an exercise message is a
 * NOTIFICATION with nothing but its message_number; a document keeps its
 * kind, title and metadata but has no contacts and no attachment.
 *
 * MILEX: currency (ISO 4217) and unit are required unless nil; form is set
 * and matches what is filled: matrix only for MILEX_STANDARDIZED,
 * simplified only for MILEX_SIMPLIFIED, single_figure (> 0) only for
 * MILEX_SINGLE_FIGURE. Every figure is >= 0. Matrix: in every row the ten
 * force-group cells add up to total (reported at <row>.total: "row total X
 * differs from sum of cells Y"); in every column, total column included,
 * personnel = 1.1..1.5, operations_maintenance = 2.1..2.4, procurement =
 * its 11 items, construction = its 6 items, procurement_construction =
 * procurement + construction, research_development = 4.1 + 4.2, total =
 * 1 + 2 + 3 + 4 (reported at <heading>.<column>: "column total X differs
 * from sum of cells Y (...)"). An absent row counts as all zeros, so a
 * heading filled without its sub-rows does not add up. Simplified: in each
 * row land + naval + air + other = total; in each column the total row is
 * the sum of the four headings. A sum beyond int64 is itself a problem.
 *
 * Arms register: a nil flag (nil_exports, nil_imports, nil_salw_exports,
 * nil_salw_imports) with lines in its table is a contradiction; exports
 * and imports are each either listed or declared nil (SALW tables are
 * voluntary and may be left empty). Transfer lines: category (SALW: type)
 * set; counterpart_state a known code other than the sender, and quantity
 * > 0, both required unless the line is withheld (a withheld line needs
 * only its category; what it does give must still be valid); quantity
 * never negative; origin_state, if given, a known code other than the
 * exporter (the sender on an export line, the counterpart on an import
 * line); intermediate_locations: at most VALIDATE_MAX_LOCATIONS entries,
 * each either a known state code or a free-text place name (non-empty, at
 * most VALIDATE_MAX_PLACE bytes, no control characters) — an entry of
 * three capital letters is taken as a code and must be a known one, which
 * catches typos such as "CHI". Holdings: category set, quantity >= 0 (a
 * declared zero is information). National production: category set,
 * quantity > 0 unless withheld. description and comments at most
 * VALIDATE_MAX_TEXT bytes; national_policies at most
 * VALIDATE_MAX_LONG_TEXT.
 *
 * Acquisition report: the same nil-flag rules for imports and exports;
 * each line has category, type (non-empty), quantity > 0 and a known
 * counterpart_state other than the sender.
 *
 * Acquisition notification: category set; type_model non-empty; quantity
 * > 0; mode set; IMPORT requires exporter_state (a known code other than
 * the sender); NATIONAL_PRODUCTION forbids it; incorporation_date a valid
 * date not after the date (UTC) of prepared_at.
 *
 * Exercise messages: kind set. AMENDMENT, CANCELLATION and
 * OBSERVER_RESPONSE need at least one entry in $.references.
 * NOTIFICATION and AMENDMENT need name, exercise_type, start_date <=
 * end_date and at least one area. OBSERVER_INVITATION needs an
 * observer_contact and either a name or a reference. Whatever is given is
 * checked for every kind: dates valid; participating_states known codes,
 * no duplicates; troops >= 0; areas with latitude in [-90, 90], longitude
 * in [-180, 180] and a non-empty place; observers_invited requires
 * observer_contact; response only in OBSERVER_RESPONSE (where it is
 * required): accepted names at least one observer, declined names none.
 *
 * Documents: kind set; title non-empty; metadata keys non-empty (at most
 * VALIDATE_MAX_KEY bytes) and unique, each entry with one value set, date
 * values valid dates; contacts each with a name and an email or a phone
 * (email shape local@domain.tld in ASCII; phone digits with an optional
 * leading '+', spaces, '-', '.', '(' and ')', 6 to 20 digits); a
 * POINTS_OF_CONTACT document lists at least one contact and gives each its
 * area; attachment: filename non-empty, at most 255 bytes, without '/',
 * '\', ".." or control characters; media_type "type/subtype" (RFC 6838
 * names, no parameters); content non-empty, at most
 * VALIDATE_MAX_ATTACHMENT bytes.
 *
 * Short names (type, type_model, exercise name, message_number, observer
 * and contact fields, equipment) are at most VALIDATE_MAX_NAME bytes;
 * titles, descriptions, comments and metadata text at most
 * VALIDATE_MAX_TEXT. Lists whose entries are compared with each other
 * (references, participating states, metadata, areas, observers, contacts,
 * equipment) are bounded by VALIDATE_MAX_LIST.
 */
#ifndef CSBM_VALIDATE_H
#define CSBM_VALIDATE_H

#include <stddef.h>

#include "proto/package.pb-c.h"

#define VALIDATE_MAX_PROBLEMS 64

#define VALIDATE_MIN_YEAR       1990
#define VALIDATE_MAX_YEAR       2100
#define VALIDATE_MAX_REFERENCES 32
#define VALIDATE_MAX_NAME       256
#define VALIDATE_MAX_TEXT       4096
#define VALIDATE_MAX_LONG_TEXT  (64u * 1024)
#define VALIDATE_MAX_PLACE      128
#define VALIDATE_MAX_LOCATIONS  32
#define VALIDATE_MAX_KEY        64
#define VALIDATE_MAX_LIST       1024
#define VALIDATE_MAX_ATTACHMENT (32u * 1024 * 1024)

typedef struct {
    char path[160];    /* JSON path, "$.milex.matrix.personnel.land" */
    char message[352]; /* the rule and the values, without the path */
} validate_problem_t;

typedef struct {
    validate_problem_t problems[VALIDATE_MAX_PROBLEMS];
    size_t             count; /* problems stored */
    size_t             total; /* problems found (may exceed count) */
} validate_report_t;

/* Check pkg. Returns the number of problems found (0 means valid) and fills
 * report (which may be NULL): the first VALIDATE_MAX_PROBLEMS problems in
 * document order, and their total. A NULL pkg is one problem at "$".
 * Values quoted in messages are shortened and their control characters
 * escaped, so a message is safe to print. */
size_t validate_package(const Csbm__Package *pkg, validate_report_t *report);

/* The package type of pkg's body (PACKAGE_TYPE_UNSPECIFIED if none). */
Csbm__PackageType validate_package_type(const Csbm__Package *pkg);

#endif
