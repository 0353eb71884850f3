"""read_idx: the IDX format, and refusing every kind of broken or hostile file."""
import gzip
import struct
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bprop.data import read_idx
from bprop.errors import DataError

# Written here from the format's description, independently of bprop's reader.
TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    array = np.asarray(array)
    code = TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data):
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """One folder for the property tests (hypothesis re-runs a test body many times)."""
    return tmp_path_factory.mktemp("idx")


# --- reading valid files -------------------------------------------------------------


def test_reads_plain_ubyte_images(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    result = read_idx(write(tmp_path / "images", idx_bytes(images)))
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, images)


def test_reads_gzipped_file_whatever_its_name(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    path = write(tmp_path / "labels.idx", gzip.compress(idx_bytes(labels)))  # no .gz suffix
    np.testing.assert_array_equal(read_idx(path), labels)


def test_plain_file_named_gz_is_read_as_plain(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "x.gz", idx_bytes(labels))), labels)


def test_hand_written_big_endian_int32_file(tmp_path):
    # 00 00 0C 01 | 00 00 00 02 | 00 00 01 00 | FF FF FF FE  ->  [256, -2]
    data = bytes.fromhex("00000C01" "00000002" "00000100" "FFFFFFFE")
    result = read_idx(write(tmp_path / "ints", data))
    assert result.dtype == np.dtype("=i4")
    assert result.tolist() == [256, -2]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_every_supported_type_code_round_trips_in_native_byte_order(tmp_path, dtype):
    array = (np.arange(12) - 5).astype(dtype).reshape(3, 4)
    result = read_idx(write(tmp_path / "a", idx_bytes(array)))
    assert result.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(result, array)


def test_returned_array_is_writable(tmp_path):
    result = read_idx(write(tmp_path / "a", gzip.compress(idx_bytes(np.zeros((2, 2), np.uint8)))))
    result[0, 0] = 7  # a loader may scale in place
    assert result[0, 0] == 7


def test_zero_length_dimension_gives_an_empty_array(tmp_path):
    result = read_idx(write(tmp_path / "a", idx_bytes(np.zeros((0, 28, 28), np.uint8))))
    assert result.shape == (0, 28, 28)


# --- refusing broken files -----------------------------------------------------------


def refuses(path, *fragments):
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_file(tmp_path):
    refuses(tmp_path / "absent", "no such file")


def test_directory(tmp_path):
    refuses(tmp_path, "directory")


def test_empty_file(tmp_path):
    refuses(write(tmp_path / "a", b""), "too short")


def test_magic_number_must_start_with_two_zero_bytes(tmp_path):
    refuses(write(tmp_path / "a", b"\x01\x00\x08\x01\x00\x00\x00\x00"), "not an IDX file")


def test_unsupported_type_code(tmp_path):
    refuses(write(tmp_path / "a", b"\x00\x00\x0A\x01\x00\x00\x00\x00"), "type code 0x0A")


def test_zero_dimensions(tmp_path):
    refuses(write(tmp_path / "a", b"\x00\x00\x08\x00"), "0 dimensions")


def test_truncated_header(tmp_path):
    refuses(write(tmp_path / "a", b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00"), "truncated IDX header")


def test_truncated_payload_plain(tmp_path):
    data = idx_bytes(np.zeros((4, 5), np.uint8))
    refuses(write(tmp_path / "a", data[:-1]), "truncated", "holds 19")


def test_trailing_data_plain(tmp_path):
    data = idx_bytes(np.zeros((4, 5), np.uint8))
    refuses(write(tmp_path / "a", data + b"\x00"), "1 bytes of trailing data")


def test_truncated_payload_inside_complete_gzip(tmp_path):
    data = idx_bytes(np.zeros((4, 5), np.uint8))
    refuses(write(tmp_path / "a", gzip.compress(data[:-3])), "truncated", "holds 17")


def test_trailing_data_inside_gzip(tmp_path):
    data = idx_bytes(np.zeros((4, 5), np.uint8))
    refuses(write(tmp_path / "a", gzip.compress(data + b"junk")), "trailing data")


def test_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    refuses(write(tmp_path / "a", compressed[: len(compressed) // 2]), "gzip stream is truncated")


def test_gzip_stream_missing_only_its_trailer(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8)))
    refuses(write(tmp_path / "a", compressed[:-8]), "truncated")


def test_gzip_with_wrong_crc(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))))
    compressed[-8] ^= 0xFF  # first byte of the CRC-32 trailer
    refuses(write(tmp_path / "a", bytes(compressed)), "corrupt gzip")


def test_garbage_after_gzip_member(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8)))
    refuses(write(tmp_path / "a", compressed + b"not gzip"), "corrupt gzip")


# Well under the memory that a claimed payload would take, above read_idx's 1 MiB chunk.
SMALL_PEAK = 4 * 2**20


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("claimed, reason", [(2**31, "more than the"), (2**29, "truncated")],
                         ids=["over-the-limit", "under-the-limit"])
def test_header_claiming_huge_item_count_in_100_bytes_fails_fast_without_allocating(
        tmp_path, compress, claimed, reason):
    header = b"\x00\x00\x08\x01" + struct.pack(">I", claimed)
    data = header + bytes(92)  # a 100-byte file
    path = write(tmp_path / "a", gzip.compress(data) if compress else data)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DataError, match=reason):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 0.5
    assert peak < SMALL_PEAK


def test_max_bytes_refuses_a_header_over_the_limit_before_reading(tmp_path):
    path = write(tmp_path / "a", gzip.compress(idx_bytes(np.zeros(100, np.uint8))))
    with pytest.raises(DataError, match="100 bytes, more than the 99-byte limit"):
        read_idx(path, max_bytes=99)
    assert read_idx(path, max_bytes=100).shape == (100,)


# --- properties ----------------------------------------------------------------------

IDX_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    array=IDX_DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5))),
    compress=st.booleans(),
)
def test_any_array_round_trips(scratch, array, compress):
    data = idx_bytes(array)
    result = read_idx(write(scratch / "roundtrip", gzip.compress(data) if compress else data))
    assert result.shape == array.shape
    np.testing.assert_array_equal(result, array)  # NaNs compare equal here


def outcome_is_array_or_data_error(path):
    """What every reader must do with any input: return a consistent array, or refuse."""
    try:
        result = read_idx(path)
    except DataError as error:
        assert "\n" not in str(error)
        return None
    assert isinstance(result, np.ndarray) and result.ndim >= 1
    return result


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_an_array_or_a_data_error(scratch, data):
    outcome_is_array_or_data_error(write(scratch / "fuzz", data))


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_gzipped_bytes_give_an_array_or_a_data_error(scratch, data):
    outcome_is_array_or_data_error(write(scratch / "fuzz.gz", gzip.compress(data)))


@st.composite
def mutated(draw, data):
    """data with a few random byte flips, truncations, insertions or appendings."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "append"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


VALID = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))


@FUZZ
@given(data=mutated(VALID))
def test_mutated_plain_idx_gives_the_right_array_or_a_data_error(scratch, data):
    result = outcome_is_array_or_data_error(write(scratch / "mutated", data))
    if result is not None:
        # Accepted only if the bytes really are a well-formed IDX file of that array.
        assert idx_bytes(result.astype(result.dtype.newbyteorder("="))) == data


@FUZZ
@given(data=mutated(gzip.compress(VALID)))
def test_mutated_gzipped_idx_gives_an_array_or_a_data_error(scratch, data):
    outcome_is_array_or_data_error(write(scratch / "mutated.gz", data))


@FUZZ
@given(data=mutated(VALID))
def test_gzipped_mutated_idx_gives_the_right_array_or_a_data_error(scratch, data):
    result = outcome_is_array_or_data_error(write(scratch / "mutated-inner.gz", gzip.compress(data)))
    if result is not None:
        assert idx_bytes(result) == data


@FUZZ
@given(claimed=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4), payload=st.binary(max_size=64),
       compress=st.booleans())
def test_lying_headers_never_allocate_more_than_the_file_holds(scratch, claimed, payload, compress):
    data = bytes([0, 0, 0x0E, len(claimed)]) + struct.pack(f">{len(claimed)}I", *claimed) + payload
    path = write(scratch / "liar", gzip.compress(data) if compress else data)
    tracemalloc.start()
    try:
        outcome_is_array_or_data_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SMALL_PEAK
