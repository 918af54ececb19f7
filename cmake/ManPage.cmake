# cmake -DEXE=path/to/alinify -DOUT=alinify.1 -DVERSION=x.y.z -P ManPage.cmake
# alinify(1) from the program's own --help and every command's --help, so the page says what the
# binary it is installed with accepts. Plain roff (no help2man: one build dependency fewer); the help
# texts are kept as they are printed (.nf), only roff's control characters escaped.
function(alinify_help out_var)
  execute_process(COMMAND ${EXE} ${ARGN} --help OUTPUT_VARIABLE _text RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${EXE} ${ARGN} --help failed (${_rc}): ${_err}")
  endif()
  string(REPLACE "\\" "\\e" _text "${_text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" _text "${_text}")
  set(${out_var} "${_text}" PARENT_SCOPE)
endfunction()

alinify_help(_top)
# The commands are the lines "  <name>  <what it does>" of the top-level help.
string(REGEX MATCHALL "\n  [a-z][a-z-]+  " _lines "${_top}")
set(_page ".TH ALINIFY 1 \"\" \"alinify ${VERSION}\" \"User Commands\"\n.SH NAME\nalinify \\- align very large fabric scans to their designs (MPI, elastix)\n")
string(APPEND _page ".SH SYNOPSIS\n.B alinify\n.I command\n[options]\n.br\n.B mpirun\n\\-np N\n.B alinify\n.I command\n[options]\n")
string(APPEND _page ".SH DESCRIPTION\n.nf\n${_top}.fi\n")
foreach(_l ${_lines})
  string(STRIP "${_l}" _cmd)
  alinify_help(_h ${_cmd})
  string(APPEND _page ".SH \"alinify ${_cmd}\"\n.nf\n${_h}.fi\n")
endforeach()
string(APPEND _page ".SH SEE ALSO\n.BR elastix (1),\n.BR mpirun (1),\n.BR sbatch (1).\nThe documentation: <prefix>/share/doc/alinify (/usr/share/doc/alinify from the .deb).\n")
file(WRITE ${OUT} "${_page}")
