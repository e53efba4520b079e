#include "client/command_typo.hpp"

#include <algorithm>
#include <numeric>

namespace mh::client {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: "gte" is one swap from "get", as a typist sees it.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::optional<std::string> nearest_command(std::string_view word, const std::vector<std::string>& commands) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;  // more than 2 edits is another word, not a typo
  for (const auto& c : commands) {
    const std::size_t dist = edit_distance(word, c);
    if (dist < best_distance && dist < word.size()) {
      best = c;
      best_distance = dist;
    }
  }
  return best;
}

std::optional<std::string> unknown_command_message(const std::vector<std::string>& args,
                                                   const std::vector<std::string>& commands,
                                                   const std::vector<std::string>& options_with_value,
                                                   const std::vector<std::string>& flags) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return std::nullopt;
    if (a.starts_with("-")) {
      const auto is = [&](const std::vector<std::string>& list, std::string_view name) {
        return std::find(list.begin(), list.end(), name) != list.end();
      };
      // "--home DIR" consumes the next word; "--home=DIR" does not.
      if (is(options_with_value, a))
        ++i;
      else if (!is(flags, a) && !is(options_with_value, std::string_view(a).substr(0, a.find('='))))
        return std::nullopt;
      continue;
    }
    if (std::find(commands.begin(), commands.end(), a) != commands.end()) return std::nullopt;
    std::string message = "unknown command '" + a + "'";
    if (const auto near = nearest_command(a, commands)) return message + ": did you mean '" + *near + "'?";
    if (commands.empty()) return message;
    return message + " (the commands: " +
           std::accumulate(std::next(commands.begin()), commands.end(), commands.front(),
                           [](std::string s, const std::string& c) { return s + ", " + c; }) +
           ")";
  }
  return std::nullopt;
}

}  // namespace mh::client
