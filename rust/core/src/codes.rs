//! Stable numeric codes: the enums whose values cross into numpy columns and Python, each declared
//! once with its codes and Python names by [`codes!`].

/// An enum of stable codes, as the bindings export it (a name -> code dict per enum).
pub trait Codes: Copy + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// The name of the Python enum member.
    fn name(self) -> &'static str;
    /// The code (a `u64` holds every code's type).
    fn code(self) -> u64;
}

/// Generates a `#[repr]` code enum with `ALL` (every variant, in declaration order), `name()`
/// (the Python member name), `from_code()` and the [`Codes`] trait; the bindings export each as a
/// name -> code dict that `fillforge.codes` is tested against. Given `mod m;` after the enum, it
/// also generates the module `m` of the codes as constants named as in Python (for `match`
/// patterns on raw codes), so no variant is listed twice.
macro_rules! codes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident: $repr:ty {
        $($(#[$vmeta:meta])* $variant:ident = $code:literal => $py:ident,)*
    } $(#[$mmeta:meta])* $mvis:vis mod $m:ident;) => {
        $crate::codes::codes! {
            $(#[$meta])* $vis enum $name: $repr { $($(#[$vmeta])* $variant = $code => $py,)* }
        }

        $(#[$mmeta])*
        $mvis mod $m {
            $(
                #[doc = concat!("`", stringify!($name), "::", stringify!($variant), "`.")]
                pub const $py: $repr = $code;
            )*
        }
    };
    ($(#[$meta:meta])* $vis:vis enum $name:ident: $repr:ty {
        $($(#[$vmeta:meta])* $variant:ident = $code:literal => $py:ident,)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr($repr)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $code,)*
        }

        impl $name {
            pub const ALL: [$name; [$($code),*].len()] = [$($name::$variant),*];

            /// The name of the Python enum member.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($py),)*
                }
            }

            /// The variant of this code, None for a code that names none.
            #[inline]
            pub fn from_code(code: $repr) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl $crate::codes::Codes for $name {
            const ALL: &'static [$name] = &$name::ALL;

            fn name(self) -> &'static str {
                $name::name(self)
            }

            fn code(self) -> u64 {
                self as $repr as u64
            }
        }
    };
}
pub(crate) use codes;
