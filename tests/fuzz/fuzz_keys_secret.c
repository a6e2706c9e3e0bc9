/* libFuzzer program for the keys_secret target (tests/fuzz/targets.c). */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_keys_secret(data, size);
    return 0;
}
