# A Debian package of the agent for admins: `cpack -G DEB` in the build dir
# makes mlcube-agent_VERSION_ARCH.deb (binary in /usr/bin, the systemd unit,
# the service user made in postinst, the service enabled; removal keeps
# /var/lib/mlcube-agent). Dependencies come from dpkg-shlibdeps.
install(TARGETS mlcube-agent mlcube-agent-supervisor RUNTIME DESTINATION bin)
file(READ "${PROJECT_SOURCE_DIR}/tools/mlcube-agent.service" mlcube_unit)
string(REPLACE "/usr/local/bin/mlcube-agent" "/usr/bin/mlcube-agent" mlcube_unit "${mlcube_unit}")
file(WRITE "${PROJECT_BINARY_DIR}/deb/mlcube-agent.service" "${mlcube_unit}")
install(FILES "${PROJECT_BINARY_DIR}/deb/mlcube-agent.service" DESTINATION lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mlcube-agent)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "mlcube-remote developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "runs MLCube tasks for mlcube-remote controllers")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/tools/deb/postinst;${PROJECT_SOURCE_DIR}/tools/deb/prerm;${PROJECT_SOURCE_DIR}/tools/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
