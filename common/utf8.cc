#include "common/utf8.h"

namespace mlcube {

bool DecodeUtf8(absl::string_view text, size_t* pos, uint32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(*pos);
  if (lead < 0x80) {
    *code_point = lead;
    ++*pos;
    return true;
  }
  // Sequence length, payload bits of the lead byte and the smallest code
  // point that needs this length (anything below is an overlong form).
  struct Form {
    unsigned char first, last;
    size_t length;
    uint32_t mask, minimum;
  };
  static constexpr Form kForms[] = {
      {0xC2, 0xDF, 2, 0x1F, 0x80}, {0xE0, 0xEF, 3, 0x0F, 0x800}, {0xF0, 0xF4, 4, 0x07, 0x10000}};
  const Form* form = nullptr;
  for (const Form& f : kForms) {
    if (lead >= f.first && lead <= f.last) form = &f;
  }
  if (form == nullptr) return false;
  const size_t length = form->length;
  uint32_t value = lead & form->mask;
  const uint32_t minimum = form->minimum;
  if (*pos + length > text.size()) return false;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(*pos + i) & 0xC0) != 0x80) return false;
    value = (value << 6) | (byte(*pos + i) & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
  *code_point = value;
  *pos += length;
  return true;
}

bool IsValidUtf8(absl::string_view text) {
  size_t pos = 0;
  uint32_t code_point = 0;
  while (pos < text.size()) {
    if (!DecodeUtf8(text, &pos, &code_point)) return false;
  }
  return true;
}

}  // namespace mlcube
