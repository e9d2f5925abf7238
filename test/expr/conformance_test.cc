// Conformance with the CEL language definition (google/cel-spec,
// doc/langdef.md) for every feature of Herald's subset. Each case names the
// section it comes from in its tag: [cel:langdef#<section>].
#include <catch2/catch.hpp>

#include "expr/expr_test_util.h"
#include "herald/expr.h"

namespace herald::expr {
namespace {

using testing::Env;

TEST_CASE("Overflow: int64 arithmetic beyond range is an error",
          "[conformance][cel:langdef#overflow]") {
  Env env;
  CHECK(env.Eval("9223372036854775807 + 1") == "error(integer overflow)");
  CHECK(env.Eval("-9223372036854775808 - 1") == "error(integer overflow)");
  CHECK(env.Eval("-9223372036854775808") == "-9223372036854775808");
  CHECK(env.Eval("9223372036854775807 * 2") == "error(integer overflow)");
  CHECK(env.Eval("-(-9223372036854775808)") == "error(integer overflow)");
  CHECK(env.Eval("-9223372036854775808 / -1") == "error(integer overflow)");
  CHECK(env.Eval("-9223372036854775808 % -1") == "error(integer overflow)");
  CHECK(env.Eval("timestamp('9999-12-31T23:59:59Z') + duration('1s')") ==
        "error(timestamp out of range)");
  CHECK(env.Eval("int(1e19)") == "error(double out of int range)");
  CHECK(env.CompileErrorLine("9223372036854775808") == "1:1: integer literal out of range");
}

TEST_CASE("Arithmetic operators: int - double - division by zero",
          "[conformance][cel:langdef#arithmetic-operators]") {
  Env env;
  CHECK(env.Eval("1 + 2") == "3");
  CHECK(env.Eval("3.14 + 1.59") == "4.73");
  CHECK(env.Eval("5 - 3") == "2");
  CHECK(env.Eval("10.5 - 2.0") == "8.5");
  CHECK(env.Eval("10 / 2") == "5");
  CHECK(env.Eval("7 / 2") == "3");
  CHECK(env.Eval("-7 / 2") == "-3");  // truncates toward zero
  CHECK(env.Eval("7.0 / 2.0") == "3.5");
  CHECK(env.Eval("3 % 2") == "1");
  CHECK(env.Eval("-3 % 2") == "-1");
  CHECK(env.Eval("-2 * 6") == "-12");
  CHECK(env.Eval("3.5 * 40.0") == "140.0");
  CHECK(env.Eval("1 / 0") == "error(division by zero)");
  CHECK(env.Eval("1 % 0") == "error(modulus by zero)");
  CHECK(env.Eval("1.0 / 0.0") == "Infinity");  // IEEE 754
  CHECK(env.Eval("-(5)") == "-5");
  CHECK(env.Eval("-(3.14)") == "-3.14");
  CHECK(env.Eval("'Hello, ' + 'world!'") == "\"Hello, world!\"");
  // No automatic conversions between int and double.
  CHECK(env.CompileErrorLine("1 + 1.0") ==
        "1:3: no operator + for int and double; convert one side with int() or double()");
  CHECK(env.Eval("double(1) + 1.0") == "2.0");
  CHECK(env.CompileErrorLine("1.5 % 1.0") == "1:5: no operator % for double and double");
}

TEST_CASE("Numbers: int and double compare on one number line",
          "[conformance][cel:langdef#numbers]") {
  Env env;
  CHECK(env.Eval("1 == 1.0") == "true");
  CHECK(env.Eval("2 == 2.5") == "false");
  CHECK(env.Eval("1 < 1.5") == "true");
  CHECK(env.Eval("2.5 > 2") == "true");
  // As CEL's runtimes (and its conformance suite): the int is converted to
  // double, so 2^63 - 1 equals 2^63.
  CHECK(env.Eval("9223372036854775807 < 9223372036854775808.0") == "false");
  CHECK(env.Eval("9223372036854775807 == 9223372036854775808.0") == "true");
  CHECK(env.Eval("-9223372036854775808 == -9223372036854775808.0") == "true");
  CHECK(env.Eval("user.age == 30.0") == "true");
  CHECK(env.Eval("user.age in [29.5, 30.0]") == "true");
  CHECK(env.Eval("1 in [1.0, 2.0]") == "true");
}

TEST_CASE("Equality: values of different types are unequal - NaN is unequal to itself",
          "[conformance][cel:langdef#equality]") {
  Env env;
  CHECK(env.Eval("1 == 1") == "true");
  CHECK(env.Eval("'hello' == 'world'") == "false");
  CHECK(env.Eval("duration('1h') == duration('60m')") == "true");
  CHECK(env.Eval("1 != 2") == "true");
  CHECK(env.Eval("'a' != 'a'") == "false");
  CHECK(env.Eval("3.0 != 3.1") == "true");
  CHECK(env.Eval("null == null") == "true");
  CHECK(env.Eval("user.name == null") == "false");
  CHECK(env.Eval("null != user.age") == "true");
  CHECK(env.Eval("(0.0 / 0.0) == (0.0 / 0.0)") == "false");
  CHECK(env.Eval("(0.0 / 0.0) != (0.0 / 0.0)") == "true");
  CHECK(env.Eval("[1, 2] == [1, 2]") == "true");
  CHECK(env.Eval("[1, 2] == [1, 2, 3]") == "false");
  // The type checker rejects comparisons of different types.
  CHECK(env.CompileErrorLine("'a' == 1") == "1:5: cannot compare string with int");
}

TEST_CASE("Ordering: int - double - string - bool - timestamp - duration",
          "[conformance][cel:langdef#ordering]") {
  Env env;
  CHECK(env.Eval("2 < 3") == "true");
  CHECK(env.Eval("2 <= 3") == "true");
  CHECK(env.Eval("3 >= 2") == "true");
  CHECK(env.Eval("3 > 2") == "true");
  CHECK(env.Eval("'a' < 'b'") == "true");
  CHECK(env.Eval("'b' >= 'a'") == "true");
  CHECK(env.Eval("'abc' < 'abd'") == "true");
  CHECK(env.Eval("'' < 'a'") == "true");
  CHECK(env.Eval("false < true") == "true");
  CHECK(env.Eval("duration('2h') < duration('3h')") == "true");
  CHECK(env.Eval("duration('2h') + duration('1h1m') >= duration('3h')") == "true");
  CHECK(env.Eval("timestamp('2023-08-25T12:00:00Z') <= timestamp('2023-08-26T12:00:00Z')") ==
        "true");
  CHECK(env.Eval("(0.0 / 0.0) < 1.0") == "false");
  CHECK(env.Eval("(0.0 / 0.0) >= 1.0") == "false");
  CHECK(env.CompileErrorLine("null < 1") == "1:6: cannot compare null with int");
}

TEST_CASE("Logical operators: && and || absorb errors commutatively",
          "[conformance][cel:langdef#logical-operators]") {
  Env env;
  CHECK(env.Eval("true && true") == "true");
  CHECK(env.Eval("true && false") == "false");
  CHECK(env.Eval("true || false") == "true");
  CHECK(env.Eval("false || false") == "false");
  // error && false = false; false && error = false (commutative).
  CHECK(env.Eval("1 / 0 == 1 && false") == "false");
  CHECK(env.Eval("false && 1 / 0 == 1") == "false");
  CHECK(env.Eval("1 / 0 == 1 && true") == "error(division by zero)");
  CHECK(env.Eval("true && 1 / 0 == 1") == "error(division by zero)");
  // error || true = true; true || error = true.
  CHECK(env.Eval("1 / 0 == 1 || true") == "true");
  CHECK(env.Eval("true || 1 / 0 == 1") == "true");
  CHECK(env.Eval("1 / 0 == 1 || false") == "error(division by zero)");
  CHECK(env.Eval("false || 1 / 0 == 1") == "error(division by zero)");
  // Several errors: one of them is reported.
  CHECK(env.Eval("1 / 0 == 1 && 1 % 0 == 1") == "error(division by zero)");
  CHECK(env.Eval("1 / 0 == 1 && 1 % 0 == 1 && false") == "false");
  CHECK(env.Eval("1 / 0 == 1 || 1 % 0 == 1 || true") == "true");
  // ! propagates errors.
  CHECK(env.Eval("!true") == "false");
  CHECK(env.Eval("!false") == "true");
  CHECK(env.Eval("!!true") == "true");
  CHECK(env.Eval("!(1 / 0 == 1)") == "error(division by zero)");
}

TEST_CASE("Conditional operator: only the taken branch is evaluated",
          "[conformance][cel:langdef#logical-operators]") {
  Env env;
  CHECK(env.Eval("true ? 1 : 2") == "1");
  CHECK(env.Eval("false ? 'a' : 'b'") == "\"b\"");
  CHECK(env.Eval("true ? 1 / 0 : 2") == "error(division by zero)");
  CHECK(env.Eval("false ? 1 / 0 : 2") == "2");
  CHECK(env.Eval("(2 < 5) ? 'yes' : 'no'") == "\"yes\"");
  CHECK(env.Eval("('hello'.size() > 10) ? 1 / 0 : 42") == "42");
  CHECK(env.Eval("1 / 0 == 1 ? 1 : 2") == "error(division by zero)");
  CHECK(env.Eval("false ? 1 : false ? 2 : 3") == "3");  // right-associative
  CHECK(env.Eval("false ? 1 : true ? 2 : 3") == "2");
  // The middle operand is a ConditionalOr: a nested ?: there needs parentheses.
  CHECK(env.CompileErrorLine("true ? false ? 1 : 2 : 3") ==
        "1:14: expected ':' in the conditional '?:', found '?'");
  CHECK(env.Eval("true ? (false ? 1 : 2) : 3") == "2");
  CHECK(env.CompileErrorLine("true ? 1 : 'a'") ==
        "1:6: branches of ?: have different types, int and string");
}

TEST_CASE("String and bytes values: escapes - raw and triple-quoted strings",
          "[conformance][cel:langdef#string-and-bytes-values]") {
  Env env;
  CHECK(env.Eval("\"\"") == "\"\"");
  CHECK(env.Eval("'\"\"'") == "\"\\\"\\\"\"");
  CHECK(env.Eval("'''x''x'''") == "\"x''x\"");
  CHECK(env.Eval("\"\\\"\"") == "\"\\\"\"");
  CHECK(env.Eval("\"\\\\\"") == "\"\\\\\"");
  CHECK(env.Eval("r\"\\\\\"") == "\"\\\\\\\\\"");  // raw: two backslashes
  CHECK(env.Eval("size(r'\\n')") == "2");
  CHECK(env.Eval("size('\\n')") == "1");
  CHECK(env.Eval("'\\n\\t\\r\\a\\b\\f\\v\\?\\`\\''.size()") == "10");
  CHECK(env.Eval("'\\x41\\X42' == 'AB'") == "true");
  CHECK(env.Eval("'\\u00e9' == 'é'") == "true");
  CHECK(env.Eval("'\\U0001F600'.size()") == "1");
  CHECK(env.Eval("'\\101' == 'A'") == "true");                // octal
  CHECK(env.Eval("'\\377' == '\\u00ff'") == "true");          // code point 255
  CHECK(env.Eval("\"\"\"multi\nline\"\"\".size()") == "10");
  CHECK(env.CompileErrorLine("'\\s'") == "1:2: invalid escape sequence \\s");
  CHECK(env.CompileErrorLine("'\\uD83D'") ==
        "1:2: escape sequence is not a valid Unicode code point");
  CHECK(env.CompileErrorLine("'abc") == "1:1: unterminated string literal");
  CHECK(env.CompileErrorLine("'a\nb'") == "1:1: unterminated string literal");
  CHECK(env.Eval("b'abc'") == "b\"abc\"");
  CHECK(env.Eval("b'\\xff'.size()") == "1");      // \x is one byte in bytes
  CHECK(env.Eval("b'\\u00ff'.size()") == "2");    // a code point is UTF-8
}

TEST_CASE("Syntax: literals - precedence - comments - reserved words",
          "[conformance][cel:langdef#syntax]") {
  Env env;
  CHECK(env.Eval("0x1F") == "31");
  CHECK(env.Eval("1e3") == "1000.0");
  CHECK(env.Eval(".5") == "0.5");
  CHECK(env.Eval("1 + 2 * 3") == "7");
  CHECK(env.Eval("(1 + 2) * 3") == "9");
  CHECK(env.Eval("10 - 4 - 3") == "3");  // left-associative
  CHECK(env.Eval("1 < 2 == true") == "true");
  CHECK(env.Eval("true || false && false") == "true");  // && binds tighter
  CHECK(env.Eval("1 + 1 // a comment\n == 2") == "true");
  CHECK(env.Eval("- - 3") == "3");
  CHECK(env.Eval(".user.age") == "30");  // leading dot: root scope
  CHECK(env.Eval("1u") == "1u");
  CHECK(env.Eval("0x1Fu") == "31u");
  CHECK(env.CompileErrorLine("if") == "1:1: 'if' is a reserved word and cannot be a name");
  CHECK(env.Eval("{'a': 1}") == "{\"a\": 1}");
  CHECK(env.CompileErrorLine("Foo{a: 1}") == "1:4: message construction is not supported");
  CHECK(env.Eval("{'content-type': 'json'}.`content-type`") == "\"json\"");  // quoted field
  CHECK(env.CompileErrorLine("1 = 1") == "1:3: unexpected '='; did you mean '=='?");
}

TEST_CASE("In: list membership", "[conformance][cel:langdef#list-operators]") {
  Env env;
  CHECK(env.Eval("2 in [1, 2, 3]") == "true");
  CHECK(env.Eval("'a' in ['b', 'c']") == "false");
  CHECK(env.Eval("'a' in []") == "false");
  CHECK(env.Eval("[1, 2, 3][1]") == "2");
  CHECK(env.Eval("[1, 2, 3][3]") == "error(index out of range)");
  CHECK(env.Eval("['hello', 'world'].size()") == "2");
  CHECK(env.Eval("size(['first', 'second', 'third'])") == "3");
  CHECK(env.Eval("1 / 0 in [1]") == "error(division by zero)");
  CHECK(env.CompileErrorLine("1 in 2") ==
        "1:3: 'in' needs a list or a map on the right, not int");
  CHECK(env.CompileErrorLine("'a' in [1, 2]") == "1:5: cannot look for string in list(int)");
}

TEST_CASE("String functions", "[conformance][cel:langdef#string-functions]") {
  Env env;
  CHECK(env.Eval("'hello world'.contains('world')") == "true");
  CHECK(env.Eval("'foobar'.contains('baz')") == "false");
  CHECK(env.Eval("'hello world'.endsWith('world')") == "true");
  CHECK(env.Eval("'foobar'.endsWith('bar')") == "true");
  CHECK(env.Eval("'hello world'.startsWith('hello')") == "true");
  CHECK(env.Eval("'foobar'.startsWith('foo')") == "true");
  CHECK(env.Eval("matches('foobar', 'foo.*')") == "true");
  CHECK(env.Eval("'foobar'.matches('foo.*')") == "true");
  CHECK(env.Eval("'foobar'.matches('^bar')") == "false");  // substring match, anchors
  CHECK(env.Eval("'foobar'.matches('bar')") == "true");
  CHECK(env.Eval("'hello'.size()") == "5");
  CHECK(env.Eval("size('world!')") == "6");
  CHECK(env.Eval("'fiance\\u0301'.size()") == "7");
  CHECK(env.Eval("'TacoCat'.lowerAscii()") == "\"tacocat\"");
}

TEST_CASE("Date/time functions", "[conformance][cel:langdef#date-time-functions]") {
  Env env;
  CHECK(env.Eval("timestamp('2023-12-25T00:00:00Z').getDate()") == "25");
  CHECK(env.Eval("timestamp('2023-12-25T00:00:00Z').getDate('America/Los_Angeles')") == "24");
  CHECK(env.Eval("timestamp('2023-12-25T00:00:00Z').getDayOfMonth()") == "24");
  CHECK(env.Eval("timestamp('2023-12-25T00:00:00Z').getDayOfMonth('America/Los_Angeles')") ==
        "23");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getDayOfWeek()") == "1");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getDayOfYear()") == "358");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getFullYear()") == "2023");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getHours()") == "12");
  CHECK(env.Eval("duration('3h').getHours()") == "3");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00.500Z').getMilliseconds()") == "500");
  CHECK(env.Eval("duration('1.234s').getMilliseconds()") == "234");
  CHECK(env.Eval("timestamp('2023-12-25T12:30:00Z').getMinutes()") == "30");
  CHECK(env.Eval("duration('1h30m').getMinutes()") == "90");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getMonth()") == "11");
  CHECK(env.Eval("timestamp('2023-12-25T12:30:30Z').getSeconds()") == "30");
  CHECK(env.Eval("duration('1m30s').getSeconds()") == "90");
  CHECK(env.Eval("timestamp('2023-01-10T12:00:00Z') - timestamp('2023-01-10T00:00:00Z') == "
                 "duration('12h')") == "true");
  CHECK(env.Eval("timestamp('2023-01-01T00:00:00Z') + duration('24h') == "
                 "timestamp('2023-01-02T00:00:00Z')") == "true");
  CHECK(env.Eval("duration('1m') - duration('1s') == duration('59s')") == "true");
  CHECK(env.Eval("duration('-1.5h') == -duration('90m')") == "true");
  CHECK(env.Eval("timestamp('2023-08-26T12:39:00-07:00') == "
                 "timestamp('2023-08-26T19:39:00Z')") == "true");
}

TEST_CASE("Types and conversions: int() and double()",
          "[conformance][cel:langdef#types-and-conversions]") {
  Env env;
  CHECK(env.Eval("int(123)") == "123");
  CHECK(env.Eval("int(3.14)") == "3");
  CHECK(env.Eval("int(-3.9)") == "-3");
  CHECK(env.Eval("int('123')") == "123");
  CHECK(env.Eval("int('abc')") == "error(conversion failed)");
  CHECK(env.Eval("int(timestamp('1970-01-01T00:01:00Z'))") == "60");
  CHECK(env.Eval("double(10)") == "10.0");
  CHECK(env.Eval("double('3.14')") == "3.14");
  CHECK(env.Eval("double(3.14)") == "3.14");
}

TEST_CASE("Field selection and has(): presence of attributes",
          "[conformance][cel:langdef#field-selection]") {
  Env env;
  CHECK(env.Eval("has(user.age)") == "true");
  env.Unset("user.age");
  CHECK(env.Eval("has(user.age)") == "false");
  CHECK(env.Eval("user.age") == "error(user.age is not set)");
  CHECK(env.CompileErrorLine("has(user)") ==
        "1:5: has() needs a field selection such as has(user.age)");
  CHECK(env.CompileErrorLine("has(1)") ==
        "1:5: has() needs a field selection such as has(user.age)");
}

}  // namespace
}  // namespace herald::expr

namespace herald::expr {
namespace {

using testing::Env;

TEST_CASE("Known divergences from cel-go, fixed (issue 17)", "[conformance][cel:divergences]") {
  Env env;
  // Fixed offsets as the spec's tests write them, without a sign.
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getHours('02:00')") == "14");
  CHECK(env.Eval("timestamp('2023-12-25T12:00:00Z').getHours('-02:30')") == "9");
  // Years before 1000: four digits when printed, and read back.
  CHECK(env.Eval("string(timestamp('0500-01-01T00:00:00Z'))") == "\"0500-01-01T00:00:00Z\"");
  CHECK(env.Eval("timestamp(string(timestamp('0009-02-03T04:05:06.5Z'))) == "
                 "timestamp('0009-02-03T04:05:06.500Z')") == "true");
  CHECK(env.Eval("timestamp('0500-01-01T00:00:00Z')") == "timestamp(\"0500-01-01T00:00:00Z\")");
  // Numbers with spaces are not numbers (Go's strconv, as cel-go).
  CHECK(env.Eval("int(' 42')") == "error(conversion failed)");
  CHECK(env.Eval("int('42 ')") == "error(conversion failed)");
  CHECK(env.Eval("double(' 1.5')") == "error(conversion failed)");
  CHECK(env.Eval("uint('+1')") == "error(conversion failed)");
  // No leap second.
  CHECK(env.CompileErrorLine("timestamp('2016-12-31T23:59:60Z')") ==
        "1:11: invalid timestamp \"2016-12-31T23:59:60Z\": expected RFC 3339 such as "
        "2026-06-01T17:00:00Z");
  CHECK(env.Eval("timestamp(user.state + '16-12-31T23:59:60Z')") == "error(conversion failed)");
  CHECK(env.Eval("timestamp(1)") == "timestamp(\"1970-01-01T00:00:01Z\")");
}

TEST_CASE("Macros: CEL's error semantics", "[conformance][cel:langdef#macros]") {
  Env env;
  // all / exists: another element deciding absorbs an error.
  CHECK(env.Eval("[1, 0, 2].all(x, 2 / x > 0 )") == "error(division by zero)");
  CHECK(env.Eval("[1, 0, -2].all(x, 2 / x > 0)") == "false");
  CHECK(env.Eval("[0, 1].exists(x, 2 / x == 2)") == "true");
  CHECK(env.Eval("[0, 3].exists(x, 2 / x == 2)") == "error(division by zero)");
  // exists_one, map and filter propagate errors.
  CHECK(env.Eval("[1, 0].exists_one(x, 2 / x == 2)") == "error(division by zero)");
  CHECK(env.Eval("[1, 0].map(x, 2 / x)") == "error(division by zero)");
  CHECK(env.Eval("[1, 2, 3].map(x, x * 2)") == "[2, 4, 6]");
  CHECK(env.Eval("[1, 2, 3].map(x, x > 1, x * 2)") == "[4, 6]");
  CHECK(env.Eval("user.interests.filter(i, i.size() == 4)") == "[\"golf\"]");
  CHECK(env.Eval("user.interests.exists(i, i.startsWith('go'))") == "true");
  CHECK(env.Eval("user.interests.all(s, s != 'churned')") == "true");
  CHECK(env.Eval("{'a': 1, 'b': 2}.all(k, k.size() == 1)") == "true");
  CHECK(env.Eval("[[1, 2], [3]].map(l, size(l))") == "[2, 1]");
  CHECK(env.Eval("[1, 2].all(x, [3, 4].exists(y, y > x))") == "true");  // nested
  // Macro variables are typed from the range.
  CHECK(env.CompileErrorLine("user.interests.map(i, i + 1)") ==
        "1:25: no operator + for string and int");
  // The variable is scoped to the macro.
  CHECK(env.CompileErrorLine("user.interests.all(i, true) && i == 'x'") ==
        "1:32: unknown variable i");
}

TEST_CASE("Maps - uint - bytes - dyn - type()", "[conformance][cel:langdef#values]") {
  Env env;
  CHECK(env.Eval("{'a': 1, 'b': 2}['b']") == "2");
  CHECK(env.Eval("{'a': 1}.b") == "error(no such key)");
  CHECK(env.Eval("has({'a': 1}.a) && !has({'a': 1}.b)") == "true");
  CHECK(env.Eval("'a' in {'a': 1} && size({'a': 1, 'b': 2}) == 2") == "true");
  CHECK(env.Eval("{1: 'x', 2u: 'y'}[2] == 'y'") == "true");
  CHECK(env.Eval("{'a': [1, 2]} == {'a': [1, 2]}") == "true");
  CHECK(env.Eval("{'a': 1, 'a': 2}") == "error(repeated key in a map)");
  CHECK(env.Eval("18446744073709551615u + 1u") == "error(unsigned integer overflow)");
  CHECK(env.Eval("uint(-1)") == "error(out of uint range)");
  CHECK(env.Eval("1u == 1 && 1u < 2.5") == "true");
  CHECK(env.Eval("b'abc' + b'd' == bytes('abcd')") == "true");
  CHECK(env.Eval("string(b'\\xff')") == "error(bytes are not valid UTF-8)");
  CHECK(env.Eval("[1, 2] + [3] == [1, 2, 3]") == "true");
  CHECK(env.Eval("type(1) == int && type('a') == string && type([]) == list") == "true");
  CHECK(env.Eval("type(now) == google.protobuf.Timestamp") == "true");
  CHECK(env.Eval("dyn(1) + 2") == "3");
  CHECK(env.Eval("dyn('a') + 2") == "error(no matching overload)");
  CHECK(env.Eval("string(1.5) + string(2u) + string(true)") == "\"1.52true\"");
  CHECK(env.Eval("bool('true') && !bool('f')") == "true");
  CHECK(env.Eval("bool('yes')") == "error(conversion failed)");
  CHECK(env.CompileErrorLine("{'a': 1}[1]") == "1:10: key of map(string, int) cannot be int");
  CHECK(env.CompileErrorLine("{'a': 1}.a + 'x'") == "1:12: no operator + for int and string");
}

}  // namespace
}  // namespace herald::expr
