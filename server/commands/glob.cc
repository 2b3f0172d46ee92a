#include "server/commands/glob.h"

#include <cstddef>

namespace shoal::server {
namespace {

// Redis bounds the recursion depth of '*' (util.c, stringmatchlen_impl).
constexpr int kMaxNesting = 1000;

// ASCII tolower on the (signed) char value, as glibc's tolower does for the
// values Redis passes it; bytes >= 0x80 are left alone.
int Lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

// A line-by-line port of stringmatchlen_impl. Redis reads one byte past the
// pattern's end (the sds NUL terminator); here every such read is guarded by
// a length check that gives the same answer. Bytes are compared as signed
// chars, as Redis does, which matters only for ranges over bytes >= 0x80.
bool MatchImpl(const char* p, size_t plen, const char* s, size_t slen, bool nocase,
               bool* skip_longer, int nesting) {
  if (nesting > kMaxNesting) return false;

  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*': {
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;  // a trailing '*' matches the rest
        while (slen > 0) {
          if (MatchImpl(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1)) return true;
          if (*skip_longer) return false;
          ++s;
          --slen;
        }
        // The rest of the pattern matches no suffix of the string, so no
        // earlier '*' can help by consuming more: stop the whole search.
        *skip_longer = true;
        return false;
      }
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool match = false;
        while (true) {
          if (plen == 0) {
            // Unterminated class: back up so the step below ends the pattern.
            --p;
            ++plen;
            break;
          }
          if (p[0] == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) match = true;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            int start = p[0];
            int end = p[2];
            int c = s[0];
            if (start > end) {
              int t = start;
              start = end;
              end = t;
            }
            if (nocase) {
              start = Lower(start);
              end = Lower(end);
              c = Lower(c);
            }
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) match = true;
          } else if (nocase ? Lower(p[0]) == Lower(s[0]) : p[0] == s[0]) {
            match = true;
          }
          ++p;
          --plen;
        }
        if (negate) match = !match;
        if (!match) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (nocase ? Lower(p[0]) != Lower(s[0]) : p[0] != s[0]) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase) {
  bool skip_longer = false;
  return MatchImpl(pattern.data(), pattern.size(), s.data(), s.size(), nocase, &skip_longer, 0);
}

}  // namespace shoal::server
