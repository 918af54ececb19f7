#pragma once
// Checks on the paths a command will write, made before anything is opened for writing.
#include <string>
#include <utility>
#include <vector>

namespace alinify::paths {

// True when a and b name the same file: the same inode when both exist (hard links, symlinks,
// "./x" vs "x"), else the same normalised absolute path.
bool same_file(const std::string& a, const std::string& b);

// Bad input (exit 2) naming the output when an output is one of the inputs, or two outputs are the
// same file. Inputs and outputs are (option, path) pairs, the option for the message.
using Named = std::pair<std::string, std::string>;
void refuse_overwriting_inputs(const std::vector<Named>& outputs, const std::vector<Named>& inputs);

// Bad input naming `path` when it is missing, a folder, or empty: the three commonest wrong
// arguments, each with its own message instead of a parser's confusion.
void require_input_file(const std::string& path);

// Bad input naming `path` when its folder does not exist or a file cannot be created in it. Tried
// for real (a probe file created with O_EXCL and removed): access(W_OK) is always true for root,
// yet root cannot create files on a read-only mount or in /proc.
void require_writable_folder(const std::string& path);

// Bad input naming `dir` and `option` when the folder `dir` cannot be made or written: its nearest
// existing ancestor (itself when it exists) is not a folder, or a file cannot be created in it (the
// same probe). Creates nothing: for a folder written late (a summary, debug pictures), checked
// before the work that would come first.
void require_creatable_folder(const std::string& dir, const std::string& option);

}  // namespace alinify::paths
