/*
 * The calibration target of ci/fuzz.sh: parses a 5-byte frame header
 * (0x54, a big-endian u32 length) and nothing else, without libduct.  Its
 * execs/s is what the engine itself manages on this machine at this load;
 * ci/fuzz.sh prints every target's execs/s as a ratio to it, so figures
 * from noisy, shared machines can be compared (fuzz/README.md, "Speed").
 */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the length goes, so the parse is not optimized away. */
volatile uint32_t fuzz_calibrate_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5 || data[0] != 0x54)
		return 0;
	uint32_t len = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
	               (uint32_t)data[3] << 8 | data[4];
	if (len <= size - 5)
		fuzz_calibrate_sink = len;
	return 0;
}
