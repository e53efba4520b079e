# `cmake --install`: the two binaries, their man pages and shell completions.
include(GNUInstallDirs)
install(TARGETS minihttpsd minihttps RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages are generated from each program's --help by help2man, at build time (target `man`,
# part of the default build), so they say what the binary does. Without help2man the build and
# the tests still work; only the man pages are left out (and the install says so).
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM)
  set(MH_MAN_DIR ${CMAKE_BINARY_DIR}/man)
  set(MH_MAN_PAGES "")
  foreach(prog minihttpsd minihttps)
    if(prog STREQUAL "minihttpsd")
      set(summary "serve a folder to authenticated minihttps clients")
    else()
      set(summary "fetch, upload and chat with a minihttpsd server, every byte verified")
    endif()
    add_custom_command(
      OUTPUT ${MH_MAN_DIR}/${prog}.1
      COMMAND ${CMAKE_COMMAND} -E make_directory ${MH_MAN_DIR}
      COMMAND ${HELP2MAN_PROGRAM} --no-info --no-discard-stderr --section=1 --name=${summary}
              --version-string=${PROJECT_VERSION} --output=${MH_MAN_DIR}/${prog}.1 $<TARGET_FILE:${prog}>
      DEPENDS ${prog}
      COMMENT "help2man ${prog}.1"
      VERBATIM)
    list(APPEND MH_MAN_PAGES ${MH_MAN_DIR}/${prog}.1)
  endforeach()
  add_custom_target(man ALL DEPENDS ${MH_MAN_PAGES})
  install(FILES ${MH_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man pages (scripts/install-deps.sh installs it)")
  install(CODE [[message(STATUS "no man pages: help2man was not found when this build was configured")]])
endif()

set(MH_COMPLETIONS ${PROJECT_SOURCE_DIR}/completions)
install(FILES ${MH_COMPLETIONS}/minihttps.bash RENAME minihttps
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${MH_COMPLETIONS}/minihttps.bash RENAME minihttpsd
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${MH_COMPLETIONS}/_minihttps DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions)
