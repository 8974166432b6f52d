/* placeholder: replaced in this session */
typedef int kt_guest_placeholder;
