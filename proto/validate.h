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
 */
#ifndef CSBM_VALIDATE_H
#define CSBM_VALIDATE_H

#include <stddef.h>

#include "proto/package.pb-c.h"

#define VALIDATE_MAX_PROBLEMS 64

typedef struct {
    char path[160];
    char message[352];
} validate_problem_t;

typedef struct {
    validate_problem_t problems[VALIDATE_MAX_PROBLEMS];
    size_t             count; /* problems stored */
    size_t             total; /* problems found (may exceed count) */
} validate_report_t;

/* Check pkg. Returns the number of problems found (0 means valid) and fills
 * report (which may be NULL). */
size_t validate_package(const Csbm__Package *pkg, validate_report_t *report);

/* The package type of pkg's body (PACKAGE_TYPE_UNSPECIFIED if none). */
Csbm__PackageType validate_package_type(const Csbm__Package *pkg);

#endif
