# What an operator installs (docs/install.md): `cmake --install build --prefix P`, the .deb that
# `cpack -G DEB` makes from the same rules, or P/share/alinify/modulefiles on a module path.
# Only the program and what it needs at run time or for operating it: never the test programs, the
# static libraries of the layers (they are linked into the binary) or the GPU self-test.
include(GNUInstallDirs)

install(TARGETS alinify RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The LibTorch plugin (src/warp/CMakeLists.txt): torch_loader.cpp looks for it in
# <bin>/../lib/alinify. Its own component, left out of a plain install and of the .deb, which would
# otherwise depend on LibTorch's ~300 libraries for a backend few sites use:
# `cmake --install build --component torch` adds it.
if(TARGET alinify_torch)
  set_target_properties(alinify_torch PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)  # a pip LibTorch is off the linker path
  install(TARGETS alinify_torch LIBRARY DESTINATION lib/alinify COMPONENT torch EXCLUDE_FROM_ALL)
endif()

# The elastix presets are compiled into the binary (cmake/EmbedConfigs.cmake), so it needs no file
# at run time and cannot pick up a stale copy. They are installed as the starting point for a
# site's own parameter files (`--params`).
file(GLOB _alinify_presets ${PROJECT_SOURCE_DIR}/configs/elastix/*.txt)
install(FILES ${_alinify_presets} DESTINATION ${CMAKE_INSTALL_DATADIR}/alinify/elastix)

# The Slurm scripts run `${ALINIFY:-alinify}`: the binary on PATH or the one ALINIFY names (the
# module file sets both), never a path into a checkout.
file(GLOB _alinify_sbatch ${PROJECT_SOURCE_DIR}/slurm/*.sbatch)
install(PROGRAMS ${_alinify_sbatch} DESTINATION ${CMAKE_INSTALL_DATADIR}/alinify/slurm)

# README.md at the top, docs/ below it, so that README's links (docs/qa.md, ...) still resolve.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# alinify.1: every command's --help (cmake/ManPage.cmake), made when the binary is built.
set(_alinify_man ${PROJECT_BINARY_DIR}/man/alinify.1)
add_custom_command(OUTPUT ${_alinify_man}
                   COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:alinify> -DOUT=${_alinify_man}
                           -DVERSION=${PROJECT_VERSION} -P ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
                   DEPENDS alinify ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake VERBATIM)
add_custom_target(alinify_man ALL DEPENDS ${_alinify_man})
install(FILES ${_alinify_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The environment module (Tcl: Environment Modules and Lmod both read it), written at install
# time, because `cmake --install --prefix` and cpack choose the prefix only then.
install(CODE "
  set(ALINIFY_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(ALINIFY_VERSION \"${PROJECT_VERSION}\")
  set(ALINIFY_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(ALINIFY_MANDIR \"${CMAKE_INSTALL_MANDIR}\")
  set(ALINIFY_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
  set(ALINIFY_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(_f \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/alinify/modulefiles/alinify/${PROJECT_VERSION}\")
  message(STATUS \"Installing: \${_f}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/alinify.modulefile.in\" \"\${_f}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_f}\")
")

# `cpack -G DEB` in the build folder: alinify_<version>_amd64.deb, installing under /usr.
# dpkg-shlibdeps finds the libraries' packages; elastix and mpirun are run as programs, so they are
# named here.
set(CPACK_PACKAGE_NAME alinify)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "align very large fabric scans to their designs (MPI, elastix)")
set(CPACK_PACKAGE_DESCRIPTION
    "alinify registers a camera scan of printed fabric to its design with elastix and warps it onto the design's pixel grid, in parallel with MPI on one workstation or a Slurm cluster.")
set(ALINIFY_PACKAGE_CONTACT "alinify maintainers" CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${ALINIFY_PACKAGE_CONTACT}")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# DESTDIR staging with the prefix /usr: the install script (the module file above) then sees the
# prefix the package installs to, not cpack's staging folder.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "elastix, openmpi-bin")
# CHOLMOD (the refinement's fit) runs on any libblas.so.3; OpenBLAS makes it 4.2-4.4x faster (docs/install.md).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-serial")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurm-client, environment-modules | lmod")
include(CPack)
