#pragma once
// A mistyped subcommand ("minihttps gte x"): CLI11, with global options allowed after the
// command, would only say "A subcommand is required". This finds the word that was meant as the
// command and names the nearest real one.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mh::client {

// The edit distance (insertions, deletions, substitutions, and swaps of two neighbours) between a and b.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The command closest to `word`, if one is close enough to be what was meant (at most 2 edits,
// and fewer than the word has letters); ties go to the first in `commands`.
std::optional<std::string> nearest_command(std::string_view word, const std::vector<std::string>& commands);

// For args (argv without the program name): the first word that is not an option nor an option's
// value, when it is not one of `commands`, as the message to print ("unknown command 'gte': did
// you mean 'get'?"). `options_with_value` are the global options that take a value (--home ...),
// `flags` those that do not; any other option before the command is left to the parser to report.
std::optional<std::string> unknown_command_message(const std::vector<std::string>& args,
                                                   const std::vector<std::string>& commands,
                                                   const std::vector<std::string>& options_with_value,
                                                   const std::vector<std::string>& flags);

}  // namespace mh::client
