# Debian packages with CPack (DEB generator, one package per component): mash-broker, mash-agent
# and mashctl. `./mash package` builds them from the release preset; tests/package/install-test.sh
# packages the dev build the same way. The layout is in docs/packages.md:
#   /usr/bin                              the executables
#   /etc/mash/{broker,agent}.toml         example configuration (conffiles)
#   /lib/systemd/system/mash-*.service    hardened units (packaging/systemd/)
#   /usr/share/mash-broker/console        the web console's built assets (console/dist)
#   /usr/share/mash-broker/certs          the development PKI script and OpenSSL profiles
#   /usr/share/mash-{broker,agent}/examples  example policies, bank holidays
#   /usr/share/doc/<package>              the guides that concern the package
# The maintainer scripts (packaging/deb/*.in) create each daemon's system user and state folder.
# Install destinations under /etc and /lib are absolute on purpose: they are where Debian wants
# them whatever the prefix, and only CPack installs these components.
set(MASH_PKG_DIR ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS mash-broker RUNTIME DESTINATION bin COMPONENT broker)
install(TARGETS mash-agent mash-synth RUNTIME DESTINATION bin COMPONENT agent)
install(TARGETS mashctl RUNTIME DESTINATION bin COMPONENT mashctl)

install(FILES ${MASH_PKG_DIR}/etc/broker.toml DESTINATION /etc/mash COMPONENT broker)
install(FILES ${MASH_PKG_DIR}/etc/agent.toml DESTINATION /etc/mash COMPONENT agent)
install(FILES ${MASH_PKG_DIR}/systemd/mash-broker.service DESTINATION /lib/systemd/system
        COMPONENT broker)
install(FILES ${MASH_PKG_DIR}/systemd/mash-agent.service DESTINATION /lib/systemd/system
        COMPONENT agent)

# The console's assets are built by npm (./mash's ensure_console), not by CMake: refuse to make a
# broker package without them rather than ship a broker whose console cannot start.
set(MASH_CONSOLE_DIST ${PROJECT_SOURCE_DIR}/console/dist)
install(CODE "
  if(NOT EXISTS \"${MASH_CONSOLE_DIST}/console.css\")
    message(FATAL_ERROR \"${MASH_CONSOLE_DIST} is not built: npm run build --prefix console (./mash package does it)\")
  endif()" COMPONENT broker)
install(DIRECTORY ${MASH_CONSOLE_DIST}/ DESTINATION share/mash-broker/console COMPONENT broker)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/certs/make-dev-pki.sh DESTINATION share/mash-broker/certs
        COMPONENT broker)
install(FILES ${PROJECT_SOURCE_DIR}/certs/openssl.cnf ${PROJECT_SOURCE_DIR}/certs/README.md
        DESTINATION share/mash-broker/certs COMPONENT broker)
install(FILES ${PROJECT_SOURCE_DIR}/examples/policies/hub-agreement.toml
              ${PROJECT_SOURCE_DIR}/examples/policies/hub-agreement.tests.toml
        DESTINATION share/mash-broker/examples/policies COMPONENT broker)
install(FILES ${PROJECT_SOURCE_DIR}/examples/bank-holidays-england-and-wales.txt
        DESTINATION share/mash-broker/examples COMPONENT broker)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/policies/
        DESTINATION share/mash-agent/examples/policies COMPONENT agent
        FILES_MATCHING PATTERN "*-disclosure*.toml")

set(MASH_DOC ${PROJECT_SOURCE_DIR}/docs)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${MASH_DOC}/packages.md ${MASH_DOC}/configuration.md
              ${MASH_DOC}/audit.md ${MASH_DOC}/console.md ${MASH_DOC}/workflow.md
        DESTINATION share/doc/mash-broker COMPONENT broker)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${MASH_DOC}/packages.md ${MASH_DOC}/configuration.md
              ${MASH_DOC}/agent.md ${MASH_DOC}/policy.md
        DESTINATION share/doc/mash-agent COMPONENT agent)
install(FILES ${MASH_DOC}/mashctl.md ${MASH_DOC}/policy.md ${MASH_DOC}/audit.md
              ${MASH_DOC}/audit-format.md ${MASH_DOC}/key-files.md
        DESTINATION share/doc/mashctl COMPONENT mashctl)

# Maintainer scripts and conffiles, one set per daemon from the templates in packaging/deb/.
function(mash_deb_control pkg config description kept subdirs out_var)
  set(dir ${PROJECT_BINARY_DIR}/packaging/${pkg})
  set(PKG ${pkg})
  set(CONFIG ${config})
  set(DESCRIPTION ${description})
  set(KEPT ${kept})
  set(STATE_SUBDIRS "")
  foreach(sub ${subdirs})
    string(APPEND STATE_SUBDIRS " /var/lib/${pkg}/${sub}")
  endforeach()
  string(STRIP "${STATE_SUBDIRS}" STATE_SUBDIRS)
  if(STATE_SUBDIRS)
    set(STATE_SUBDIRS_DOC "${STATE_SUBDIRS} also 0700")
  else()
    set(STATE_SUBDIRS_DOC "nothing in it")
  endif()
  foreach(script postinst prerm postrm)
    configure_file(${MASH_PKG_DIR}/deb/${script}.in ${dir}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "${config}\n")
  set(${out_var} ${dir}/conffiles ${dir}/postinst ${dir}/prerm ${dir}/postrm PARENT_SCOPE)
endfunction()
mash_deb_control(mash-broker /etc/mash/broker.toml "MASH Exchange broker"
                 "the audit trail, the check and staff databases, the policy store" data broker_control)
mash_deb_control(mash-agent /etc/mash/agent.toml "MASH Exchange agent"
                 "the disclosure log, the record store, the policy store" "" agent_control)

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL broker agent mashctl)
set(CPACK_PACKAGE_NAME mash-exchange)
set(CPACK_PACKAGE_VENDOR "MASH Exchange")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "MASH Exchange maintainers <mash-exchange@localhost>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_BROKER_PACKAGE_NAME mash-broker)
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_BROKER_PACKAGE_RECOMMENDS "mashctl, openssl")
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA "${broker_control}")
set(CPACK_COMPONENT_BROKER_DESCRIPTION
    "MASH Exchange hub broker for Multi-Agency Safeguarding Hubs
mash-broker runs at a Multi-Agency Safeguarding Hub. It checks every agency check against the
partnership's signed sharing agreement, sends encrypted, signed queries to the agencies' agents
over mutual TLS 1.3, compiles their answers and keeps a tamper-evident audit trail (RFC 6962
Merkle tree, signed checkpoints) that the agents witness. It serves the staff's HTTPS JSON API
and web console.

The package installs a hardened systemd unit (mash-broker.service), an example
/etc/mash/broker.toml and the system user mash-broker; it does not start the service.")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME mash-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "mashctl")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA "${agent_control}")
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "MASH Exchange agent: answers a safeguarding hub's agency checks
mash-agent runs inside an agency (police, health, social care, education, probation, housing)
beside its record system. It dials out to the hub, verifies every query, matches the subject
against the agency's records and answers under the agency's own signed disclosure policy,
keeping its own disclosure log and witnessing the hub's audit trail. mash-synth makes
synthetic records to try it with.

The package installs a hardened systemd unit (mash-agent.service), an example
/etc/mash/agent.toml and the system user mash-agent; it does not start the service.")

set(CPACK_DEBIAN_MASHCTL_PACKAGE_NAME mashctl)
set(CPACK_COMPONENT_MASHCTL_DESCRIPTION
    "MASH Exchange command line for hub staff, IG officers, DPOs and administrators
mashctl raises and follows agency checks through the hub's API, manages staff accounts and
agency enrolment, makes keys and tokens, validates, tests, signs and publishes sharing
policies, and verifies, searches and exports the audit trail offline.")

# Each package's description starts with its own summary line: CPack prepends the project's
# summary unless it is CPack's default, so it is set to that default here.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
include(CPack)
