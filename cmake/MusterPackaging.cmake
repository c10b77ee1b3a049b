# Installing muster and the Debian package (README "Installing the package").
#
#   cmake --install build/release            programs under the prefix (default /usr/local),
#                                            musterd.service, /etc/default/musterd
#   cd build/release && cpack -G DEB         muster_<version>_<arch>.deb (prefix /usr), whose
#                                            postinst makes the `muster` user and the data dir
#                                            /var/lib/muster and enables musterd.service
#
# The package's runtime dependencies are found by dpkg-shlibdeps from the libraries the
# programs link (CPACK_DEBIAN_PACKAGE_SHLIBDEPS), plus what the maintainer scripts and
# the server need that no library says: tzdata (the policy's time zone), passwd
# (useradd), init-system-helpers (deb-systemd-helper).

include(GNUInstallDirs)

install(TARGETS musterd muster RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The Mosquitto plugin binding client ids to users; `musterd broker-config` finds it in
# PREFIX/lib/muster (server/musterd/broker_config.cpp).
install(TARGETS muster_broker_ids LIBRARY DESTINATION lib/muster)
if(TARGET muster-xmpp-bridge)
  # A plugin, started by `musterd serve --plugin PATH` (plugins/README.md).
  install(TARGETS muster-xmpp-bridge RUNTIME DESTINATION ${CMAKE_INSTALL_LIBDIR}/muster)
endif()

# packaging/musterd.service runs /usr/bin/musterd, the package's; installed under another
# prefix it names the musterd there. Written at install time, when the prefix is known
# (cpack installs under its own, /usr).
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/packaging/musterd.service\" unit)
  string(REPLACE \"ExecStart=/usr/bin/musterd\" \"ExecStart=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/musterd\" unit \"\${unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/packaging/musterd.service\" \"\${unit}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\" TYPE FILE
       FILES \"${PROJECT_BINARY_DIR}/packaging/musterd.service\")
")
install(FILES packaging/musterd.default DESTINATION /etc/default RENAME musterd)
install(FILES README.md docs/protocol.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Bash completion for both programs, written at build time by `muster completion bash` and
# `musterd completion bash` from the declarations their command lines are parsed with
# (client/CMakeLists.txt, server/CMakeLists.txt); bash-completion loads them by name.
install(FILES ${PROJECT_BINARY_DIR}/completions/muster ${PROJECT_BINARY_DIR}/completions/musterd
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

set(CPACK_PACKAGE_NAME muster)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "muster maintainers <muster@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "offline-first messaging and dispatch for neighbourhood volunteer teams")
set(CPACK_PACKAGE_DESCRIPTION "musterd, the server (WebSocket and MQTT, SQLite queues), run as the muster user by
musterd.service over /var/lib/muster, and muster, the terminal client.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)  # with CPACK_SET_DESTDIR, the prefix cpack installs under
# /etc/default/musterd is installed by an absolute path: under the package's root too.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, passwd, init-system-helpers")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mosquitto")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
include(CPack)
