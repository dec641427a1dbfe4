# Writes OUTPUT: one `{path, content type, body},` line per file of FILES
# (PATH=FILE pairs), the body a raw string literal. Run at build time, so an
# edit of the page rebuilds the controller.
set(lines "")
foreach(pair IN LISTS FILES)
  string(REPLACE "=" ";" parts "${pair}")
  list(GET parts 0 path)
  list(GET parts 1 file)
  file(READ "${file}" body)
  if(body MATCHES "\\)mlcube_web\"")
    message(FATAL_ERROR "${file} contains the raw-string delimiter )mlcube_web\"")
  endif()
  if(path MATCHES "\\.js$")
    # Not text/*: cpp-httplib would compress it with Brotli at its slowest
    # level on every load (0.37 s for Chart.js, for 127.0.0.1).
    set(type "application/javascript; charset=utf-8")
  elseif(path MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(path MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    set(type "text/html; charset=utf-8")
  endif()
  string(APPEND lines "{\"${path}\", \"${type}\", R\"mlcube_web(${body})mlcube_web\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "${lines}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
