# The .deb (CPack): `cmake --build build --target package` makes
# build/sprites_<version>_<arch>.deb. Layout (docs: README "Install from the
# .deb"):
#   /usr/lib/sprites/        sprites-master, sprites-worker, sprites-supervisor
#   /usr/bin/                sprites-supervisor (a link), sprites-cli
#   /usr/share/sprites/web/  the pages
#   /lib/systemd/system/sprites.service   deploy/sprites.service, started from /usr/bin
#   /etc/default/sprites     the settings (a conffile: upgrades keep local edits)
#   /usr/lib/sysctl.d/60-sprites.conf, /etc/security/limits.d/sprites.conf
#   /usr/share/doc/sprites/  README, API, cluster notes
# The supervisor finds the binaries beside itself and the master finds the
# pages at ../../share/sprites/web from its own path, so the tree also runs
# unpacked anywhere (the CI's smoke test runs it from a scratch directory).
include(GNUInstallDirs)

install(TARGETS sprites-master sprites-worker RUNTIME DESTINATION lib/sprites)
install(PROGRAMS deploy/sprites-supervisor DESTINATION lib/sprites)
install(TARGETS sprites-cli RUNTIME DESTINATION bin)
install(CODE "file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin\")
  file(CREATE_LINK ../lib/sprites/sprites-supervisor
       \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin/sprites-supervisor\" SYMBOLIC)")
install(DIRECTORY web/ DESTINATION share/sprites/web FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The unit of a checkout at /opt/sprites, pointed at the installed supervisor.
file(READ deploy/sprites.service unit)
string(REPLACE "/opt/sprites/deploy/sprites-supervisor" "/usr/bin/sprites-supervisor" unit "${unit}")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/package/sprites.service "${unit}")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/package/sprites.service DESTINATION /lib/systemd/system)
install(FILES deploy/package/default-sprites DESTINATION /etc/default RENAME sprites)
install(FILES deploy/sysctl.d/60-sprites.conf DESTINATION lib/sysctl.d)
install(FILES deploy/limits.d/sprites.conf DESTINATION /etc/security/limits.d)
install(FILES README.md docs/API.md docs/cluster.md DESTINATION share/doc/sprites)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sprites)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "sprites developers <sprites@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "long-poll relay for desktop sprites: supervisor, master, workers, pages")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_STRIP_FILES ON)
# dpkg-shlibdeps finds the libraries' packages (libuv1, libnats3.4, zlib1g, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nats-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/package/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/package/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/package/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/package/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
