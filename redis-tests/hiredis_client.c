/* Compatibility test through an unmodified C client (hiredis 0.14 API).
 *
 * Usage: hiredis_client HOST PORT
 * Exercises strings, binary values, expiry, pipelining and error replies.
 * Prints one line per failed check; exits 0 only when every check passed. */

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int failures = 0;
static int checks = 0;

static void Fail(int line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hiredis_client.c:%d: ", line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  failures++;
}

#define FAIL(...) Fail(__LINE__, __VA_ARGS__)

static redisContext* ctx;

/* The reply must be a status reply with the given text. */
static void ExpectStatus(int line, redisReply* r, const char* text) {
  checks++;
  if (r == NULL) {
    Fail(line, "no reply (%s)", ctx->errstr);
  } else if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, text) != 0) {
    Fail(line, "want status '%s', got type %d '%s'", text, r->type, r->str ? r->str : "");
  }
  freeReplyObject(r);
}

static void ExpectString(int line, redisReply* r, const char* data, size_t len) {
  checks++;
  if (r == NULL) {
    Fail(line, "no reply (%s)", ctx->errstr);
  } else if (r->type != REDIS_REPLY_STRING || r->len != len || memcmp(r->str, data, len) != 0) {
    Fail(line, "want bulk '%.*s' (%zu bytes), got type %d len %zu", (int)(len > 60 ? 60 : len),
         data, len, r->type, r->type == REDIS_REPLY_STRING ? r->len : 0);
  }
  freeReplyObject(r);
}

static void ExpectInteger(int line, redisReply* r, long long value) {
  checks++;
  if (r == NULL) {
    Fail(line, "no reply (%s)", ctx->errstr);
  } else if (r->type != REDIS_REPLY_INTEGER || r->integer != value) {
    Fail(line, "want integer %lld, got type %d (%lld) '%s'", value, r->type, r->integer,
         r->str ? r->str : "");
  }
  freeReplyObject(r);
}

static void ExpectNil(int line, redisReply* r) {
  checks++;
  if (r == NULL) {
    Fail(line, "no reply (%s)", ctx->errstr);
  } else if (r->type != REDIS_REPLY_NIL) {
    Fail(line, "want nil, got type %d", r->type);
  }
  freeReplyObject(r);
}

static void ExpectError(int line, redisReply* r, const char* text) {
  checks++;
  if (r == NULL) {
    Fail(line, "no reply (%s)", ctx->errstr);
  } else if (r->type != REDIS_REPLY_ERROR || strcmp(r->str, text) != 0) {
    Fail(line, "want error '%s', got type %d '%s'", text, r->type, r->str ? r->str : "");
  }
  freeReplyObject(r);
}

#define STATUS(r, text) ExpectStatus(__LINE__, (redisReply*)(r), text)
#define STR(r, text) ExpectString(__LINE__, (redisReply*)(r), text, strlen(text))
#define BIN(r, data, len) ExpectString(__LINE__, (redisReply*)(r), data, len)
#define INT(r, v) ExpectInteger(__LINE__, (redisReply*)(r), v)
#define NIL(r) ExpectNil(__LINE__, (redisReply*)(r))
#define ERR(r, text) ExpectError(__LINE__, (redisReply*)(r), text)

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void TestStrings(void) {
  STATUS(redisCommand(ctx, "SET %s %s", "h:k", "hello"), "OK");
  STR(redisCommand(ctx, "GET %s", "h:k"), "hello");
  NIL(redisCommand(ctx, "GET %s", "h:missing"));
  const char bin[] = {'a', '\0', '\r', '\n', 'b', (char)0xff};
  STATUS(redisCommand(ctx, "SET %b %b", "h:bin\0", (size_t)6, bin, sizeof(bin)), "OK");
  BIN(redisCommand(ctx, "GET %b", "h:bin\0", (size_t)6), bin, sizeof(bin));
  STATUS(redisCommand(ctx, "MSET h:a 1 h:b 2"), "OK");
  redisReply* r = redisCommand(ctx, "MGET h:a h:missing h:b");
  checks++;
  if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "1") != 0 ||
      r->element[1]->type != REDIS_REPLY_NIL || r->element[2]->type != REDIS_REPLY_STRING ||
      strcmp(r->element[2]->str, "2") != 0) {
    FAIL("MGET reply mismatch");
  }
  freeReplyObject(r);
  INT(redisCommand(ctx, "INCR h:a"), 2);
  INT(redisCommand(ctx, "INCRBY h:a %d", 40), 42);
  INT(redisCommand(ctx, "APPEND h:b %s", "345"), 4);
  STR(redisCommand(ctx, "GET h:b"), "2345");
  INT(redisCommand(ctx, "DEL h:a h:b h:missing"), 2);
  INT(redisCommand(ctx, "EXISTS h:a"), 0);
  STATUS(redisCommand(ctx, "PING"), "PONG");
}

static void TestExpiry(void) {
  STATUS(redisCommand(ctx, "SET h:e v EX 100"), "OK");
  redisReply* r = redisCommand(ctx, "TTL h:e");
  checks++;
  if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer < 99 || r->integer > 100) {
    FAIL("TTL out of range");
  }
  freeReplyObject(r);
  INT(redisCommand(ctx, "TTL h:missing"), -2);
  STATUS(redisCommand(ctx, "SET h:short v PX 200"), "OK");
  STR(redisCommand(ctx, "GET h:short"), "v");
  /* Poll with a deadline until the key is gone. */
  double deadline = Now() + 5.0;
  int gone = 0;
  while (!gone && Now() < deadline) {
    r = redisCommand(ctx, "GET h:short");
    gone = r != NULL && r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    if (!gone) {
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  checks++;
  if (!gone) FAIL("h:short did not expire within 5 s");
  INT(redisCommand(ctx, "EXPIRE h:e 50"), 1);
  INT(redisCommand(ctx, "PERSIST h:e"), 1);
  INT(redisCommand(ctx, "TTL h:e"), -1);
}

static void TestPipeline(void) {
  enum { kN = 2000 };
  char key[64], val[64];
  for (int i = 0; i < kN; i++) {
    snprintf(key, sizeof(key), "h:p:%d", i);
    snprintf(val, sizeof(val), "value-%d", i);
    redisAppendCommand(ctx, "SET %s %s", key, val);
    redisAppendCommand(ctx, "GET %s", key);
  }
  redisAppendCommand(ctx, "NOSUCHCMD x");
  redisAppendCommand(ctx, "INCR h:pc");
  for (int i = 0; i < kN; i++) {
    void* reply = NULL;
    if (redisGetReply(ctx, &reply) != REDIS_OK) {
      FAIL("pipeline read failed: %s", ctx->errstr);
      return;
    }
    STATUS(reply, "OK");
    if (redisGetReply(ctx, &reply) != REDIS_OK) {
      FAIL("pipeline read failed: %s", ctx->errstr);
      return;
    }
    snprintf(val, sizeof(val), "value-%d", i);
    STR(reply, val);
  }
  void* reply = NULL;
  if (redisGetReply(ctx, &reply) == REDIS_OK) {
    ERR(reply, "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' ");
  } else {
    FAIL("pipeline read failed: %s", ctx->errstr);
  }
  if (redisGetReply(ctx, &reply) == REDIS_OK) {
    INT(reply, 1);
  } else {
    FAIL("pipeline read failed: %s", ctx->errstr);
  }
}

static void TestErrors(void) {
  ERR(redisCommand(ctx, "GET"), "ERR wrong number of arguments for 'get' command");
  ERR(redisCommand(ctx, "foo a b"),
      "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  ERR(redisCommand(ctx, "SET k v XX NX"), "ERR syntax error");
  STATUS(redisCommand(ctx, "SET h:s abc"), "OK");
  ERR(redisCommand(ctx, "INCR h:s"), "ERR value is not an integer or out of range");
  STATUS(redisCommand(ctx, "PING"), "PONG");
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  struct timeval tv = {10, 0};
  ctx = redisConnectWithTimeout(argv[1], atoi(argv[2]), tv);
  if (ctx == NULL || ctx->err) {
    fprintf(stderr, "connect failed: %s\n", ctx ? ctx->errstr : "out of memory");
    return 1;
  }
  redisSetTimeout(ctx, tv);
  STATUS(redisCommand(ctx, "FLUSHALL"), "OK");
  TestStrings();
  TestExpiry();
  TestPipeline();
  TestErrors();
  redisFree(ctx);
  printf("hiredis_client: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
