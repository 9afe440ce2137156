// Package record reads and writes Kafka record batches, magic v2, the unit Weir stores byte for
// byte: header parsing without allocation, validation (lengths, header sense, CRC32C), in-place
// rewrites the broker makes on append (base offset, leader epoch, LogAppendTime), and record
// iteration with decompression (gzip, snappy with Java's xerial framing, lz4, zstd).
package record
