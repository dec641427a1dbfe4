# Links the libraries that dominate a process's start-up from their static archives.
#
# Debian ships gRPC, Protobuf, Abseil (46 small libraries), yaml-cpp, zstd, c-ares and re2 as
# both shared libraries and static archives; their imported targets name the shared ones.
# Loading and relocating those ~60 shared libraries took half of the CLI's start-up (about 9 of
# 17 ms before `main`, every command, measured with `perf stat` on `mlcube-remote --version`).
#
# mlcube_prefer_static_archives() points each such imported target of this directory at the
# `.a` beside its `.so`, where Debian has one. OpenSSL, libssh, zlib, libacl, libstdc++ and
# cpp-httplib stay shared: the shared libraries we still load (libssh, cpp-httplib) use them
# too, and one process must not carry two copies of OpenSSL or of the C++ runtime.

set(MLCUBE_STATIC_ARCHIVE_TARGETS
    "^(absl::|gRPC::|protobuf::libprotobuf$|yaml-cpp|c-ares::|re2::|PkgConfig::ZSTD$)")
# Libraries those targets name as plain linker flags (re2::re2 says -lre2). Only these: a
# `-lpthread` or `-lm` must stay shared, glibc's archives would split the C library in two.
set(MLCUBE_STATIC_ARCHIVE_FLAGS re2)

# The static archive beside SHARED (a path ending in .so or .so.N...), or "" when there is none.
function(_mlcube_static_archive_of shared out_var)
  set(archive "")
  if(shared MATCHES "^(/.+/lib[^/]+)\\.so(\\.[0-9]+)*$")
    # (A separate if: "${CMAKE_MATCH_1}" is expanded before the command runs.)
    if(EXISTS "${CMAKE_MATCH_1}.a")
      set(archive "${CMAKE_MATCH_1}.a")
    endif()
  elseif(shared MATCHES "^-l([A-Za-z0-9_+-]+)$" AND CMAKE_MATCH_1 IN_LIST MLCUBE_STATIC_ARCHIVE_FLAGS)
    set(name "${CMAKE_MATCH_1}")
    foreach(dir IN LISTS CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
      if(EXISTS "${dir}/lib${name}.a" AND archive STREQUAL "")
        set(archive "${dir}/lib${name}.a")
      endif()
    endforeach()
  endif()
  set(${out_var} "${archive}" PARENT_SCOPE)
endfunction()

# Swaps one imported target's shared-library locations and plain link items for archives.
function(_mlcube_use_static_archive target)
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set(properties IMPORTED_LOCATION)
  if(configs)
    foreach(config IN LISTS configs)
      string(TOUPPER "${config}" config)
      list(APPEND properties "IMPORTED_LOCATION_${config}")
    endforeach()
  endif()
  foreach(property IN LISTS properties)
    get_target_property(location ${target} ${property})
    if(location)
      _mlcube_static_archive_of("${location}" archive)
      if(archive)
        set_target_properties(${target} PROPERTIES ${property} "${archive}")
      endif()
    endif()
  endforeach()
  get_target_property(items ${target} INTERFACE_LINK_LIBRARIES)
  if(items)
    set(swapped "")
    foreach(item IN LISTS items)
      _mlcube_static_archive_of("${item}" archive)
      if(archive)
        list(APPEND swapped "${archive}")
      else()
        list(APPEND swapped "${item}")
      endif()
    endforeach()
    set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${swapped}")
  endif()
endfunction()

function(mlcube_prefer_static_archives)
  get_property(targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  set(swapped 0)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(target MATCHES "${MLCUBE_STATIC_ARCHIVE_TARGETS}" AND type MATCHES "LIBRARY$")
      _mlcube_use_static_archive(${target})
      math(EXPR swapped "${swapped} + 1")
    endif()
  endforeach()
  message(STATUS "Static archives preferred for ${swapped} imported libraries")
endfunction()
